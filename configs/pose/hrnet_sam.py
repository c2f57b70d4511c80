# HRNet-W32 top-down heatmap, COCO 256x192.
# SAM around MMPose's Adam (two passes every step).
_base_ = "./_base_/hrnet_w32_coco_256x192.py"

optim_wrapper = dict(
    _delete_=True,
    type="SAMOptimWrapper",
    constructor="SAMOptimWrapperConstructor",
    optimizer=dict(type="SAM", base_optimizer=dict(type="Adam", lr=5e-4), rho=0.05),
)
