# digits_cnn_bn_sgd with LateSAM (SGD, then SAM over the last quarter of the run):
# train_one(workload, "LateSAM", seed, horizon). SAMOptimWrapper gives LateSAM the run's length
# (train_cfg.max_iters), so the horizon changes with train_cfg.max_iters alone.
# Horizon and seed: see _base_/digits_cnn_bn.py; nothing here depends on them.
_base_ = ["./_base_/digits_cnn_bn.py"]

optim_wrapper = dict(
    type="SAMOptimWrapper",
    constructor="SAMOptimWrapperConstructor",
    # its own radius at 1k (tasks/evidence/radius.py): 1.2 at 10k, 1.8 at 50k
    optimizer=dict(type="LateSAM", base_optimizer=_base_.base_optimizer, rho=0.9),
)
