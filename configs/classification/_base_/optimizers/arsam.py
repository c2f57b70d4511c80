# ARSAM, the project's horizon-aware schedule: it picks warm-up, window, SAM-step budget and
# reuse from the run's length, which SAMOptimWrapper takes from train_cfg (no schedule
# arguments here). The paper's schedule is arsam_paper.py beside this file.
optim_wrapper = dict(
    type="SAMOptimWrapper",
    constructor="SAMOptimWrapperConstructor",
    optimizer=dict(
        type="ARSAM",
        base_optimizer=dict(type="SGD", lr=0.05, momentum=0.9, weight_decay=1e-3),
        rho=0.05,
    ),
)
