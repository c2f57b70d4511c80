# The classification recipe with the quantization-aware training choices of qat_overlay.py.
_base_ = ["../../../classification/_base_/optimizers/sgd.py", "./qat_overlay.py"]

optim_wrapper = dict(paramwise_cfg=_base_.qat_paramwise_cfg)
