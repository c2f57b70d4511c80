# HRNet-W32 top-down heatmap, COCO 256x192.
# Baseline: MMPose's plain Adam.
_base_ = "./_base_/hrnet_w32_coco_256x192.py"

optim_wrapper = dict(_delete_=True, type="OptimWrapper", optimizer=dict(type="Adam", lr=5e-4))
