# digits_cnn_bn_sgd with its base optimizer alone: train_one(workload, "base", seed, horizon).
# Horizon and seed: see _base_/digits_cnn_bn.py; nothing here depends on them.
_base_ = ["./_base_/digits_cnn_bn.py"]

optim_wrapper = dict(type="OptimWrapper", optimizer=_base_.base_optimizer)
