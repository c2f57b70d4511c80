_base_ = ["../../classification/_base_/default_runtime.py"]

custom_imports = dict(
    imports=["core.mmengine_adapter", "tasks.classification", "tasks.quantization"],
    allow_failed_imports=False,
)
