custom_imports = dict(
    imports=["arsam.core.mmengine_adapter", "tests.adapter.toy"], allow_failed_imports=False
)
model = dict(type="AdapterToyModel")
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="default_collate"),
    dataset=dict(type="AdapterToyDataset", size=32),
)
test_dataloader = dict(
    batch_size=16,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="default_collate"),
    dataset=dict(type="AdapterToyDataset", size=16, seed=1),
)
test_cfg = dict()
test_evaluator = dict(type="AdapterToyAccuracy")
train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=100)
optim_wrapper = dict(
    type="SAMOptimWrapper",
    constructor="SAMOptimWrapperConstructor",
    optimizer=dict(  # ARSAM with the paper's schedule: a warm-up in epochs, a short window
        type="ARSAMPaper",
        base_optimizer=dict(type="SGD", lr=0.1, momentum=0.9),
        rho=0.05,
        warmup_epochs=1,
        window=4,
        var_blocks=2,
    ),
)
default_hooks = dict(
    logger=dict(type="LoggerHook", interval=1),
    checkpoint=dict(type="CheckpointHook", interval=1),
)
randomness = dict(seed=0)
log_level = "WARNING"
default_scope = None
visualizer = dict(type="Visualizer", vis_backends=[dict(type="LocalVisBackend")])
