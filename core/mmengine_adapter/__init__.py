"""The only part of core that knows MMEngine: registries, the two-pass optim wrapper, checkpoints.

Configs load it with ``custom_imports=dict(imports=['core.mmengine_adapter', ...])``.
"""

from . import checkpoints
from .constructor import SAMOptimWrapperConstructor
from .optim_wrapper import TELEMETRY_KEYS, SAMOptimWrapper
from .optimizers import TWO_PASS_OPTIMIZERS, register_two_pass_optimizer, resolve_base_optimizer

checkpoints.install()

__all__ = [
    "TELEMETRY_KEYS",
    "TWO_PASS_OPTIMIZERS",
    "SAMOptimWrapper",
    "SAMOptimWrapperConstructor",
    "register_two_pass_optimizer",
    "resolve_base_optimizer",
]
