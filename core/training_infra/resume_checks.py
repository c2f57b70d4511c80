"""A resume keeps the run's planned length when a saved learning-rate schedule depends on it.

Decision: a changed length is refused, not re-planned. When a learning-rate schedule of
the checkpoint ends where its run ended, a longer resume would train the extra epochs at
the schedule's final value and a shorter one would cut the schedule. The fix is named:
resume with the original length, or start a new run from the weights (``load_from``)
planned for the new one. Lengths that no schedule depends on (a schedule ending
elsewhere, none at all) may change, as resuming an interrupted shorter run does. The
optimizer side of a resume (same method, same base optimizer) is checked by
core/mmengine_adapter/optimizer_identity.py, which runs this check with its own.

The saved length is read from the config text MMEngine stores in the checkpoint's meta,
parsed as Python syntax without running it.
"""

from __future__ import annotations

import ast
from typing import Any

from .checkpoint_checks import CheckpointError

_UNITS = {"max_epochs": "epochs", "max_iters": "iterations"}


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
