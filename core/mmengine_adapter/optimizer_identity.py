"""A resume continues the optimizer its checkpoint was written by: same method, same base.

Checked at start-up, before any step (tools/cli/startup.py ``check_resume_plan``, with the
run-length check of core/training_infra/resume_checks.py), each refusal a
``CheckpointError`` paragraph (exit 2). A two-pass state names its method and base
optimizer (``kind``, ``base``); a plain torch state names neither, and its parameter
groups hold settings that another optimizer does not take (SGD's ``momentum`` for Adam).
A state of another method or base optimizer is refused: loaded, it would be ignored in
silence (ARSAM's PSF under plain SGD) or fail inside torch (Adam reading SGD's state).
SAMOptimWrapper checks the same again when it loads the state, for Runners built without
tools/train.py. The two-pass methods' own ``total_steps`` is one of their settings, which
SAMOptimWrapper compares too (core/rule.py ``check_settings``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from mmengine.registry import OPTIMIZERS

from ..saved_state import other_base_optimizer, settings_taken_by
from ..training_infra.checkpoint_checks import CheckpointError
from ..training_infra.resume_checks import check_same_run_length
from ..two_pass import TwoPassOptimizer
from .optimizers import TWO_PASS_OPTIMIZERS, resolve_base_optimizer

_FIX = (
    "Resume with the config the checkpoint was trained with, or start a new optimizer state "
    "from its weights with --cfg-options load_from=PATH instead of --resume."
)


@dataclass(frozen=True)
class OptimizerIdentity:
    """A run's optimizer: the two-pass method (None: a plain torch one) and its base class."""

    method: str | None
    base: type[torch.optim.Optimizer]

    def describe(self) -> str:
        """'ARSAM around SGD' or 'a plain SGD optimizer'."""
        if self.method is None:
            return f"a plain {self.base.__name__} optimizer"
        return f"{self.method} around {self.base.__name__}"


def check_resume_plan(checkpoint: dict[str, Any], path: str, runner: Any) -> None:
    """CheckpointError unless this run builds the checkpoint's optimizer and keeps its length."""
    identity = identity_from_config(runner.optim_wrapper)
    if identity is not None and isinstance(checkpoint.get("optimizer"), dict):
        check_same_optimizer(checkpoint["optimizer"], identity, f"--resume {path!r}")
    check_same_run_length(checkpoint, runner, path)


def check_same_optimizer(saved: dict[str, Any], identity: OptimizerIdentity, where: str) -> None:
    """CheckpointError when ``saved`` was written by another method or base optimizer."""
    method = saved.get("kind")
    if method != identity.method:
        writer = (
            f"{method} around {saved.get('base') or 'its base optimizer'}"
            if method
            else "a plain torch optimizer (no two-pass state)"
        )
        raise CheckpointError(
            f"{where}: the checkpoint's optimizer state was written by {writer}, and this run "
            f"builds {identity.describe()}, which cannot continue it (a two-pass state carries "
            f"PSF, the schedule and counters that a plain optimizer ignores). {_FIX}"
        )
    other = other_base_optimizer(saved, identity.base, settings_taken_by(identity.base))
    if other:
        raise CheckpointError(
            f"{where}: the checkpoint's optimizer state was written by "
            f"{f'{method} around ' if method else ''}{other}, and this run builds "
            f"{identity.describe()}, whose state it cannot continue. {_FIX}"
        )


def identity_of(optimizer: torch.optim.Optimizer) -> OptimizerIdentity:
    """The identity of a built optimizer."""
    if isinstance(optimizer, TwoPassOptimizer):
        return OptimizerIdentity(type(optimizer).__name__, type(optimizer.base_optimizer))
    return OptimizerIdentity(None, type(optimizer))


def identity_from_config(optim_wrapper: Any) -> OptimizerIdentity | None:
    """The identity of the optimizer an ``optim_wrapper`` config builds; None: not known here."""
    built = getattr(optim_wrapper, "optimizer", None)
    if isinstance(built, torch.optim.Optimizer):
        return identity_of(built)
    config = optim_wrapper.get("optimizer") if isinstance(optim_wrapper, dict) else None
    if not isinstance(config, dict):
        return None  # several optimizers (OptimWrapperDict) or a custom constructor
    kind = config.get("type")
    method = TWO_PASS_OPTIMIZERS.get(kind) if isinstance(kind, str) else kind
    if isinstance(method, type) and issubclass(method, TwoPassOptimizer):
        try:
            base, _ = resolve_base_optimizer(config.get("base_optimizer"))
        except (TypeError, ValueError):
            return None  # reported when the optimizer is built
        return OptimizerIdentity(method.__name__, base)
    plain = OPTIMIZERS.get(kind) if isinstance(kind, str) else kind
    if isinstance(plain, type) and issubclass(plain, torch.optim.Optimizer):
        return OptimizerIdentity(None, plain)
    return None
