"""A resume continues the run its checkpoint was written by: same optimizer, same planned length.

Both checks run at start-up, before any step (tools/cli/startup.py), each refusal a
``CheckpointError`` paragraph (exit 2):

- **The optimizer.** A two-pass state names its method and base optimizer (``kind``,
  ``base``); a plain torch state names neither, and its parameter groups hold settings
  that another optimizer does not take (SGD's ``momentum`` for Adam). A state of another
  method or base optimizer is refused: loaded, it would be ignored in silence (ARSAM's PSF
  under plain SGD) or fail inside torch (Adam reading SGD's state). SAMOptimWrapper checks
  the same again when it loads the state, for Runners built without tools/train.py.
- **The run's length.** Decision: a changed length is refused, not re-planned. When a
  learning-rate schedule of the checkpoint ends where its run ended, a longer resume would
  train the extra epochs at the schedule's final value and a shorter one would cut the
  schedule. The fix is named: resume with the original length, or start a new run from
  the weights (``load_from``) planned for the new one. Lengths that no schedule depends on
  (a schedule ending elsewhere, none at all) may change, as resuming an interrupted
  shorter run does. The two-pass methods' own ``total_steps`` is one of their settings,
  which SAMOptimWrapper already compares (core/rule.py ``check_settings``).

The saved length is read from the config text MMEngine stores in the checkpoint's meta,
parsed as Python syntax without running it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

import torch
from mmengine.registry import OPTIMIZERS

from ..saved_state import other_base_optimizer, settings_taken_by
from ..two_pass import TwoPassOptimizer
from .checkpoint_checks import CheckpointError
from .optimizers import TWO_PASS_OPTIMIZERS, resolve_base_optimizer

_FIX = (
    "Resume with the config the checkpoint was trained with, or start a new optimizer state "
    "from its weights with --cfg-options load_from=PATH instead of --resume."
)
_UNITS = {"max_epochs": "epochs", "max_iters": "iterations"}


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


def check_same_run_length(checkpoint: dict[str, Any], runner: Any, path: str) -> None:
    """CheckpointError when the run's length changed and a saved schedule ends with the old one."""
    saved = saved_run_length(checkpoint)
    current = run_length(runner.cfg.get("train_cfg"))
    if saved is None or current is None or saved == current:
        return
    iters_per_epoch = len(runner.train_loop.dataloader)
    ending = schedule_ending_with(checkpoint.get("param_schedulers"), saved, iters_per_epoch)
    if ending is None:
        return
    (key, length), (new_key, new_length) = saved, current
    raise CheckpointError(
        f"--resume {path!r}: the checkpoint's run was planned for {length} {_UNITS[key]}, this "
        f"run for {new_length} {_UNITS[new_key]}, and its learning-rate schedule ({ending}) "
        "ends with the planned run: resumed, it would not stretch to the new length (the extra "
        "steps would run at its final value, or a shorter run would cut it). Resume with "
        f"--cfg-options train_cfg.{key}={length}, the original length, or start a new run "
        "planned for the new length from the checkpoint's weights with --cfg-options "
        "load_from=PATH instead of --resume."
    )


def saved_run_length(checkpoint: dict[str, Any]) -> tuple[str, int] | None:
    """('max_epochs', n) or ('max_iters', n) of the config stored in the checkpoint's meta."""
    text = (checkpoint.get("meta") or {}).get("cfg")
    if not isinstance(text, str):
        return None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    for statement in tree.body:
        if (
            isinstance(statement, ast.Assign)
            and [getattr(t, "id", None) for t in statement.targets] == ["train_cfg"]
            and isinstance(statement.value, ast.Call)
        ):
            keywords = {k.arg: k.value for k in statement.value.keywords if k.arg}
            return run_length({k: _literal(v) for k, v in keywords.items()})
    return None


def run_length(train_cfg: Any) -> tuple[str, int] | None:
    """('max_epochs', n) for an epoch-based ``train_cfg``, ('max_iters', n) for an iteration one."""
    if not isinstance(train_cfg, dict):
        return None
    for key in _UNITS:
        value = train_cfg.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return key, value
    return None


def schedule_ending_with(
    schedulers: Any, length: tuple[str, int], iters_per_epoch: int
) -> str | None:
    """'param_scheduler N ends at epoch E' for a saved scheduler that ends where the run ends."""
    if not isinstance(schedulers, list):
        return None
    key, value = length
    epochs = value if key == "max_epochs" else None
    iters = value * iters_per_epoch if key == "max_epochs" else value
    for index, state in enumerate(schedulers):
        if not isinstance(state, dict):
            continue
        end = _planned_end(state)
        if state.get("by_epoch") and end == epochs:
            return f"param_scheduler {index} ends at epoch {end}"
        if not state.get("by_epoch") and end == iters:
            return f"param_scheduler {index} ends at iteration {end}"
    return None


def _planned_end(state: dict[str, Any]) -> Any:
    """A scheduler's last step: its ``end``, or begin + T_max for a cosine without one."""
    begin, end, period = state.get("begin", 0), state.get("end"), state.get("T_max")
    if isinstance(period, int) and isinstance(begin, int) and (end is None or end >= 10**9):
        return begin + period
    return end


def _literal(node: ast.AST) -> Any:
    """The value of a literal node; None for anything else (nothing is evaluated)."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        return None
