# digits_cnn_bn_sgd with SAM (two passes every step): train_one(workload, "SAM", seed, horizon).
# Horizon and seed: see _base_/digits_cnn_bn.py; nothing here depends on them.
_base_ = ["./_base_/digits_cnn_bn.py"]

optim_wrapper = dict(
    type="SAMOptimWrapper",
    constructor="SAMOptimWrapperConstructor",
    optimizer=dict(type="SAM", base_optimizer=_base_.base_optimizer, rho=_base_.rho),
)
