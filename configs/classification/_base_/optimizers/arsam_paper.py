# ARSAMPaper, ARSAM with the paper's schedule (for reproducing the paper): every step is a SAM
# step for a 3-epoch warm-up (converted to steps from train_cfg), then SAM steps are placed
# adaptively in windows. The project's default is ARSAM (arsam.py beside this file).
optim_wrapper = dict(
    type="SAMOptimWrapper",
    constructor="SAMOptimWrapperConstructor",
    optimizer=dict(
        type="ARSAMPaper",
        base_optimizer=dict(type="SGD", lr=0.05, momentum=0.9, weight_decay=1e-3),
        rho=0.05,
        warmup_epochs=3,
    ),
)
