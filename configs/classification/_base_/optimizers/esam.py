# ESAM through MMEngine: stochastic weight perturbation (beta) on every step. Its data selection
# (gamma < 1) needs one loss per sample, which MMEngine's train step does not give: gamma=1.0
# here (the plain PyTorch closure of core/esam.py's docstring runs the selection).
optim_wrapper = dict(
    type="SAMOptimWrapper",
    constructor="SAMOptimWrapperConstructor",
    optimizer=dict(
        type="ESAM",
        base_optimizer=dict(type="SGD", lr=0.05, momentum=0.9, weight_decay=1e-3),
        rho=0.05,
        beta=0.6,
        gamma=1.0,
    ),
)
