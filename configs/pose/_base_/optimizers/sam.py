# SAM around MMPose's Adam (two passes every step). See adam.py for how a leaf config uses it.
pose_optim_wrapper = dict(
    type="SAMOptimWrapper",
    constructor="SAMOptimWrapperConstructor",
    optimizer=dict(type="SAM", base_optimizer=dict(type="Adam", lr=5e-4), rho=0.05),
)
