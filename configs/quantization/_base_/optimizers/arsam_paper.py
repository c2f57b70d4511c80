# ARSAMPaper (the paper's schedule, 3-epoch warm-up) with the classification recipe (SGD, lr 0.05,
# momentum 0.9, weight decay 1e-3, rho 0.05) and the quantization-aware training choices of
# qat_overlay.py.
_base_ = ["../../../classification/_base_/optimizers/arsam_paper.py", "./qat_overlay.py"]

optim_wrapper = dict(
    paramwise_cfg=_base_.qat_paramwise_cfg,
    exclude_from_perturbation=_base_.qat_exclude_from_perturbation,
)
