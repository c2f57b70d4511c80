# HRNet-W32 top-down heatmap, MPII 256x256 (PCKh).
# Baseline: MMPose's plain Adam.
_base_ = "./_base_/hrnet_w32_mpii_256x256.py"

optim_wrapper = dict(_delete_=True, type="OptimWrapper", optimizer=dict(type="Adam", lr=5e-4))
