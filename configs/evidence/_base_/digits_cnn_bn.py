# The evidence workload digits_cnn_bn_sgd (tasks/evidence/workloads.py) as an MMEngine run:
# 400 scikit-learn digits (all 1347 past 1k steps) with 40% of their labels moved to another
# class, the small BatchNorm CNN, batch 32, a per-step cosine learning rate from the peak to 0.
# Data, batch order, model and schedule are those of arsam.tasks.evidence.train_one, step for step
# (tests/evidence/test_config_workload.py checks the weights bit for bit), so the suite's
# numbers are these configs' numbers. Everything except the optimizer; the leaves add it.
#
#   horizon: --cfg-options train_cfg.max_iters=10000 (default 1000, the suite's "1k"). At
#            10000 the suite trains on all 1347 digits: add train_dataloader.dataset.horizon=10k.
#            At 50000 it trains an MLP with BatchNorm on all 1347 digits instead: add
#            model.horizon=50k train_dataloader.dataset.horizon=50k. Each method trains at
#            its own radius for the cell (tasks/evidence/radius.py): SAM 0.45, 0.6 and 0.9
#            at 1k, 10k and 50k, ARSAM 0.9, 4.8 and 3.6 (optim_wrapper.optimizer.rho=...;
#            the SGD config has no rho: leave that option out there). tools/train.py refuses
#            a suite horizon's max_iters without its other options, before training, and names
#            them; evidence_cell_check=False trains such a variant on purpose.
#   seed:    --cfg-options randomness.seed=N (label noise, batch order and initialisation, as
#            train_one(..., seed=N)).
# The leaves say which of their optimizer settings follow the horizon or the seed.
workload = "digits_cnn_bn_sgd"
# The workload's optimizer settings, for the leaves (a test checks them against the workload).
base_optimizer = dict(type="SGD", lr=0.05, momentum=0.9, weight_decay=5e-4, fused=True)
rho = 0.45  # SAM's radius for the CNN on the 400 digits (the 1k horizon)
evidence_cell_check = True  # tasks/evidence/config_check.py

custom_imports = dict(
    imports=[
        "arsam.core.mmengine_adapter",
        "arsam.tasks.classification",
        "arsam.tasks.evidence.mmengine_plugins",
    ],
    allow_failed_imports=False,
)

model = dict(type="EvidenceClassifier", workload=workload)

train_dataloader = dict(
    batch_size=32,  # the workload's
    num_workers=0,
    sampler=dict(type="EvidenceSampler"),
    collate_fn=dict(type="default_collate"),
    dataset=dict(type="EvidenceDataset", workload=workload, split="train"),
)
val_dataloader = dict(
    batch_size=512,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="default_collate"),
    dataset=dict(type="EvidenceDataset", workload=workload, split="test"),
)
val_evaluator = dict(type="Accuracy", topk=(1,))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

train_cfg = dict(type="IterBasedTrainLoop", max_iters=1000, val_interval=1000)
val_cfg = dict()
test_cfg = dict()
# end and T_max default to train_cfg.max_iters: the schedule follows the horizon.
param_scheduler = [dict(type="ClosedFormCosineLR", by_epoch=False, begin=0, eta_min=0.0)]

# as train_one: subnormal floats flushed to zero while training (the workload's flush_denormals)
custom_hooks = [dict(type="FlushDenormalsHook", workload=workload)]
default_hooks = dict(
    timer=dict(type="IterTimerHook"),
    logger=dict(type="LoggerHook", interval=100),
    param_scheduler=dict(type="ParamSchedulerHook"),
    checkpoint=dict(
        type="CheckpointHook", by_epoch=False, interval=1000, max_keep_ckpts=1, save_last=True
    ),
    sampler_seed=dict(type="DistSamplerSeedHook"),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method="fork", opencv_num_threads=0),
    dist_cfg=dict(backend="gloo"),
)
vis_backends = [dict(type="LocalVisBackend")]
visualizer = dict(type="Visualizer", vis_backends=vis_backends)
log_processor = dict(type="LogProcessor", window_size=100, by_epoch=False)
log_level = "INFO"
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
