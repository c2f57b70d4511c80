# HRNet-W32 top-down heatmap, MPII 256x256 (PCKh).
_base_ = ["./_base_/hrnet_w32_mpii_256x256.py", "./_base_/optimizers/arsam_paper.py"]

optim_wrapper = dict(_delete_=True, **_base_.pose_optim_wrapper)
