# digits_cnn_bn_sgd with ARSAM's horizon-aware schedule: train_one(workload, "ARSAM", seed,
# horizon). No schedule arguments: SAMOptimWrapper gives ARSAM the run's length
# (train_cfg.max_iters), from which it picks warm-up, window, SAM-step budget and reuse.
# Horizon and seed: see _base_/digits_cnn_bn.py; nothing here depends on them (this schedule
# draws no random numbers).
_base_ = ["./_base_/digits_cnn_bn.py"]

optim_wrapper = dict(
    type="SAMOptimWrapper",
    constructor="SAMOptimWrapperConstructor",
    # its own radius at 1k (tasks/evidence/radius.py): 4.8 at 10k, 3.6 at 50k
    optimizer=dict(type="ARSAM", base_optimizer=_base_.base_optimizer, rho=0.9),
)
