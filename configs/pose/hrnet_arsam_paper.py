# HRNet-W32 top-down heatmap, COCO 256x192.
_base_ = ["./_base_/hrnet_w32_coco_256x192.py", "./_base_/optimizers/arsam_paper.py"]

optim_wrapper = dict(_delete_=True, **_base_.pose_optim_wrapper)
