# The digits network of the classification task (narrow, shallow, single channel), quantized.
_base_ = ["./quant_resnet18.py"]

model = dict(
    backbone=dict(in_channels=1, base_width=16, blocks=(1, 1, 1, 1), collect_stats_steps=20)
)
