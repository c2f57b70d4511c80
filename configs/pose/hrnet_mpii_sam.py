# HRNet-W32 top-down heatmap, MPII 256x256 (PCKh).
# SAM around MMPose's Adam (two passes every step).
_base_ = "./_base_/hrnet_w32_mpii_256x256.py"

optim_wrapper = dict(
    _delete_=True,
    type="SAMOptimWrapper",
    constructor="SAMOptimWrapperConstructor",
    optimizer=dict(type="SAM", base_optimizer=dict(type="Adam", lr=5e-4), rho=0.05),
)
