# Quantized CIFAR ResNet-18 at W4A4; first convolution and classifier (weights and their input
# activations) at 8 bits. Quantizer scales are learned parameters initialised from statistics as
# in LSQ (2 mean|x| / sqrt(Qp)): weights on the first forward, activations averaged over the first
# collect_stats_steps training batches. The 8-bit edge quantizers start from max|w| and the
# 99.999th percentile of |x| instead.
# float_checkpoint: a float CifarResNet of the same shape (a classification checkpoint or its
# state_dict) to start from; None trains from scratch.
model = dict(
    type="ImageClassifier",
    label_smoothing=0.1,
    backbone=dict(
        type="QuantCifarResNet",
        num_classes=10,
        base_width=64,
        blocks=(2, 2, 2, 2),
        weight_bits=4,
        act_bits=4,
        edge_bits=8,
        collect_stats_steps=100,
        weight_init="lsq",
        act_init="lsq",
        per_channel=False,
        float_checkpoint=None,
    ),
)
