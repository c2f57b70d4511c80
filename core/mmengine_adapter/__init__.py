"""The SAM glue between core and MMEngine: registry mirror, two-pass optim wrapper, constructor.

Configs load it with ``custom_imports=dict(imports=['arsam.core.mmengine_adapter', ...])``.
Importing it also installs arsam.core.training_infra (hooks, atomic checkpoint backend, safe
loaders), the training infrastructure that is not about SAM, and registers MMEngine's ``arsam::``
config scope (config_scope.py). The infrastructure's modules
moved there from this package; their old paths (``arsam.core.mmengine_adapter.checkpoint_checks``
and the like) still import, as the same module objects.
"""

import importlib
import sys

from ..training_infra import install as _install_training_infra
from ..training_infra.checkpoint_hook import CrashSafeCheckpointHook
from ..training_infra.nonfinite import NonFiniteCheckHook, NonFiniteTrainingError
from ..training_infra.random_state import RandomStateHook
from ..training_infra.rebind import ParameterRebindHook
from .config_scope import register_config_scope
from .constructor import SAMOptimWrapperConstructor
from .fsdp2_strategy import FSDP2Strategy
from .optim_wrapper import TELEMETRY_KEYS, SAMOptimWrapper
from .optimizers import TWO_PASS_OPTIMIZERS, resolve_base_optimizer

_MOVED_TO_TRAINING_INFRA = (
    "checkpoint_checks",
    "checkpoint_hook",
    "checkpoint_loading",
    "checkpoints",
    "clipping",
    "distributed",
    "nonfinite",
    "publish",
    "random_state",
    "rebind",
    "resume_checks",
    "step_counts",
)


# Old paths of the moved modules name the same module objects (one module, two paths).
for _name in _MOVED_TO_TRAINING_INFRA:
    sys.modules[f"{__name__}.{_name}"] = importlib.import_module(
        f"arsam.core.training_infra.{_name}"
    )
del _name

_install_training_infra()
register_config_scope()

__all__ = [
    "TELEMETRY_KEYS",
    "TWO_PASS_OPTIMIZERS",
    "CrashSafeCheckpointHook",
    "FSDP2Strategy",
    "NonFiniteCheckHook",
    "NonFiniteTrainingError",
    "ParameterRebindHook",
    "RandomStateHook",
    "SAMOptimWrapper",
    "SAMOptimWrapperConstructor",
    "resolve_base_optimizer",
]
