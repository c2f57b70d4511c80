# ARSAM around MMPose's Adam with the paper's schedule (SAM steps sampled adaptively after a
# 3-epoch warm-up). See adam.py for how a leaf config uses it.
pose_optim_wrapper = dict(
    type="SAMOptimWrapper",
    constructor="SAMOptimWrapperConstructor",
    optimizer=dict(
        type="ARSAM",
        base_optimizer=dict(type="Adam", lr=5e-4),
        rho=0.05,
        warmup_epochs=3,
        schedule="paper",
    ),
)
