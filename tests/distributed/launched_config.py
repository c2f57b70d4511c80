_base_ = ["../adapter/toy_config.py"]

custom_imports = dict(
    imports=["arsam.core.mmengine_adapter", "tests.adapter.toy", "tests.distributed.plugins"],
    allow_failed_imports=False,
)
custom_hooks = [dict(type="RecordRunHook")]
train_cfg = dict(by_epoch=True, max_epochs=5, val_interval=100)
default_hooks = dict(checkpoint=dict(type="CheckpointHook", interval=100))
