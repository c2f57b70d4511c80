_base_ = ["../../classification/_base_/default_runtime.py"]

custom_imports = dict(
    imports=[
        "arsam.core.mmengine_adapter",
        "arsam.tasks.classification",
        "arsam.tasks.quantization",
    ],
    allow_failed_imports=False,
)
