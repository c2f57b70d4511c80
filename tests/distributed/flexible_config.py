_base_ = ["./launched_config.py"]

custom_imports = dict(
    imports=[
        "arsam.core.mmengine_adapter",
        "tests.adapter.toy",
        "tests.distributed.plugins",
        "tests.distributed.flexible_plugins",
    ],
    allow_failed_imports=False,
)
custom_hooks = [dict(type="RecordRunHook"), dict(type="RecordRunnerHook")]
runner_type = "FlexibleRunner"
strategy = dict(type="DDPStrategy")
