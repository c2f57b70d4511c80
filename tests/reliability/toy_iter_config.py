# The fault-injection run: an iteration-based toy ARSAM run with random augmentations, dropout,
# validation, a learning-rate schedule and a checkpoint every 2 iterations (1 kept + the best).
custom_imports = dict(
    imports=["arsam.core.mmengine_adapter", "tests.adapter.toy"], allow_failed_imports=False
)
model = dict(type="AdapterToyModel", dropout=0.1)
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type="InfiniteSampler", shuffle=True),
    collate_fn=dict(type="default_collate"),
    dataset=dict(type="AdapterToyDataset", size=24, pipeline=[dict(type="AdapterToyJitter")]),
)
val_dataloader = dict(
    batch_size=16,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="default_collate"),
    dataset=dict(
        type="AdapterToyDataset", size=16, seed=1, pipeline=[dict(type="AdapterToyJitter")]
    ),
)
val_evaluator = dict(type="AdapterToyAccuracy")
train_cfg = dict(type="IterBasedTrainLoop", max_iters=40, val_interval=6)
val_cfg = dict()
optim_wrapper = dict(
    type="SAMOptimWrapper",
    constructor="SAMOptimWrapperConstructor",
    optimizer=dict(
        type="ARSAMPaper",
        base_optimizer=dict(type="SGD", lr=0.1, momentum=0.9),
        rho=0.05,
        warmup_steps=4,
        window=4,
        var_blocks=2,
    ),
)
param_scheduler = [dict(type="CosineAnnealingLR", by_epoch=False, begin=0, end=40, eta_min=0.0)]
default_hooks = dict(
    logger=dict(type="LoggerHook", interval=5),
    param_scheduler=dict(type="ParamSchedulerHook"),
    checkpoint=dict(
        type="CheckpointHook",
        by_epoch=False,
        interval=2,
        max_keep_ckpts=1,
        save_last=True,
        save_best="accuracy",
        rule="greater",
    ),
)
randomness = dict(seed=0)
log_level = "WARNING"
default_scope = None
visualizer = dict(type="Visualizer", vis_backends=[dict(type="LocalVisBackend")])
