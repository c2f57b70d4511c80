# ARSAMPaper, ARSAM with the paper's schedule (for reproducing the paper), around MMPose's Adam:
# every step is a SAM step for a 3-epoch warm-up, then SAM steps are placed adaptively. The
# project's default is ARSAM (arsam.py beside this file). See adam.py for how a leaf config
# uses it.
pose_optim_wrapper = dict(
    type="SAMOptimWrapper",
    constructor="SAMOptimWrapperConstructor",
    optimizer=dict(
        type="ARSAMPaper",
        base_optimizer=dict(type="Adam", lr=5e-4),
        rho=0.05,
        warmup_epochs=3,
    ),
)
