# Momentum-SAM: one pass per step, at w - rho v/||v|| (v: SGD's momentum). Its rho is a length
# along the normalised momentum, not SAM's radius: the official CIFAR configs use 3 where SAM
# uses 0.2 (docs/benchmarks.md, "Each method at its own radius").
optim_wrapper = dict(
    type="SAMOptimWrapper",
    constructor="SAMOptimWrapperConstructor",
    optimizer=dict(
        type="MomentumSAM",
        base_optimizer=dict(type="SGD", lr=0.05, momentum=0.9, weight_decay=1e-3),
        rho=3.0,
    ),
)
