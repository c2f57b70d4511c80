# SimCC ResNet-50, MPII 256x256 (PCKh).
# Baseline: MMPose's plain Adam.
_base_ = "./_base_/simcc_res50_mpii_256x256.py"

optim_wrapper = dict(_delete_=True, type="OptimWrapper", optimizer=dict(type="Adam", lr=5e-4))
