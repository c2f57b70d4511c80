# ARSAM, the project's horizon-aware schedule, around MMPose's Adam: it picks warm-up, window,
# SAM-step budget and reuse from the run's length, which SAMOptimWrapper takes from train_cfg
# (no schedule arguments here). The paper's schedule is arsam_paper.py beside this file. See
# adam.py for how a leaf config uses it.
pose_optim_wrapper = dict(
    type="SAMOptimWrapper",
    constructor="SAMOptimWrapperConstructor",
    optimizer=dict(type="ARSAM", base_optimizer=dict(type="Adam", lr=5e-4), rho=0.05),
)
