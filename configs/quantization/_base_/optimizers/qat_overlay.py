# The two choices specific to quantization-aware training, shared by the SGD, SAM, ARSAM and
# ARSAMPaper fragments beside this file (each merges the block it needs into its optim_wrapper).
# Learned quantizer scales: no weight decay (it would pull them towards zero).
qat_paramwise_cfg = dict(custom_keys={"scaling_impl.value": dict(decay_mult=0.0)})
# Weights are perturbed, learned quantizer scales are not (their gradient is still the
# perturbed one). An empty list perturbs the scales too.
qat_exclude_from_perturbation = [r"scaling_impl\.value$"]
