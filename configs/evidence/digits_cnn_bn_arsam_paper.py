# digits_cnn_bn_sgd with ARSAMPaper, ARSAM with the paper's schedule: train_one(workload,
# "ARSAMPaper", seed, horizon), whose options are the suite's ARSAMPaper options in
# tasks/evidence/compared.py:
# the paper's window and reuse, and its CIFAR warm-up of 3/200 of the run.
# Two settings follow the run (see _base_/digits_cnn_bn.py); change them together:
#   horizon T: train_cfg.max_iters=T optim_wrapper.optimizer.warmup_steps=ceil(3 * T / 200)
#              (10000 steps: warmup_steps=150; 50000 steps: 750)
#   seed N:    randomness.seed=N optim_wrapper.optimizer.seed=N (the SAM-step placement)
_base_ = ["./_base_/digits_cnn_bn.py"]

optim_wrapper = dict(
    type="SAMOptimWrapper",
    constructor="SAMOptimWrapperConstructor",
    optimizer=dict(
        type="ARSAMPaper",
        base_optimizer=_base_.base_optimizer,
        rho=1.8,  # its own radius at 1k (tasks/evidence/radius.py): 2.4 at 10k, 1.8 at 50k
        window=50,
        reuse_steps=6,
        reuse_decay=0.7,
        warmup_steps=15,  # ceil(3 / 200 * 1000)
        seed=0,  # randomness.seed
    ),
)
