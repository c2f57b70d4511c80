# SimCC ResNet-50, MPII 256x256 (PCKh).
_base_ = ["./_base_/simcc_res50_mpii_256x256.py", "./_base_/optimizers/arsam_paper.py"]

optim_wrapper = dict(_delete_=True, **_base_.pose_optim_wrapper)
