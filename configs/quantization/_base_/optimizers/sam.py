# The classification recipe (SGD, lr 0.05, momentum 0.9, weight decay 1e-3, rho 0.05) with two
# choices specific to quantization-aware training.
_base_ = ["../../../classification/_base_/optimizers/sam.py"]

optim_wrapper = dict(
    # Learned quantizer scales: no weight decay (it would pull them towards zero).
    paramwise_cfg=dict(custom_keys={"scaling_impl.value": dict(decay_mult=0.0)}),
    # Weights are perturbed, learned quantizer scales are not (their gradient is still the
    # perturbed one). An empty list perturbs the scales too.
    exclude_from_perturbation=[r"scaling_impl\.value$"],
)
