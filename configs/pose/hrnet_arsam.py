# HRNet-W32 top-down heatmap, COCO 256x192.
# ARSAM around MMPose's Adam (SAM steps sampled adaptively after a 3-epoch warm-up).
_base_ = "./_base_/hrnet_w32_coco_256x192.py"

optim_wrapper = dict(
    _delete_=True,
    type="SAMOptimWrapper",
    constructor="SAMOptimWrapperConstructor",
    optimizer=dict(
        type="ARSAM", base_optimizer=dict(type="Adam", lr=5e-4), rho=0.05, warmup_epochs=3
    ),
)
