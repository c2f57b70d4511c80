"""Human pose estimation task: MMPose top-down models trained with SAM/ARSAM.

Importing this package applies the compatibility shims (tasks/pose/compat.py) before anything
imports mmpose; MMPose's registries then import its models, datasets and metrics on first use.
Configs list it in ``custom_imports`` next to ``arsam.core.mmengine_adapter``.
"""

from arsam.tasks.pose import compat

compat.apply_all()

from arsam.tasks.pose.prerequisites import preflight  # noqa: E402

__all__ = ["compat", "preflight"]
