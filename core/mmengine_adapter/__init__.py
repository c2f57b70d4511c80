"""The only part of core that knows MMEngine: registries, the two-pass optim wrapper, checkpoints.

Configs load it with ``custom_imports=dict(imports=['core.mmengine_adapter', ...])``.
"""

from . import checkpoint_loading, checkpoints
from .checkpoint_hook import CrashSafeCheckpointHook
from .constructor import SAMOptimWrapperConstructor
from .nonfinite import NonFiniteCheckHook, NonFiniteTrainingError
from .optim_wrapper import TELEMETRY_KEYS, SAMOptimWrapper
from .optimizers import TWO_PASS_OPTIMIZERS, register_two_pass_optimizer, resolve_base_optimizer
from .random_state import RandomStateHook
from .rebind import ParameterRebindHook

checkpoints.install()
checkpoint_loading.install()

__all__ = [
    "TELEMETRY_KEYS",
    "TWO_PASS_OPTIMIZERS",
    "CrashSafeCheckpointHook",
    "NonFiniteCheckHook",
    "NonFiniteTrainingError",
    "ParameterRebindHook",
    "RandomStateHook",
    "SAMOptimWrapper",
    "SAMOptimWrapperConstructor",
    "register_two_pass_optimizer",
    "resolve_base_optimizer",
]
