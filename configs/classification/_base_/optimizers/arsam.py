optim_wrapper = dict(
    type="SAMOptimWrapper",
    constructor="SAMOptimWrapperConstructor",
    optimizer=dict(
        type="ARSAM",
        base_optimizer=dict(type="SGD", lr=0.05, momentum=0.9, weight_decay=1e-3),
        rho=0.05,
        warmup_epochs=3,
        schedule="paper",  # the paper's recipe; drop warm-up and this for the horizon-aware one
    ),
)
