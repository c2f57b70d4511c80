"""Argument checks shared by the optimizers: each error names the argument and what it accepts.

Also the checks on the run's length, ``total_steps``, that ``TwoPassOptimizer.set_total_steps``
and the step make for the methods that plan over it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch


def check_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    integer: bool = False,
) -> None:
    """Raise ValueError/TypeError unless ``value`` is a finite number in the stated range."""
    kind = "an integer" if integer else "a number"
    accepted = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, accepted):
        raise TypeError(f"{name} must be {kind}, got {value!r} ({type(value).__name__})")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and value > high
    if too_low or too_high:
        left = "(" if low_open else "["
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf)" if high is None else f"{high:g}]"
        raise ValueError(f"{name} must lie in {left}{lo}, {hi}, got {value!r}")


def run_length_changes(steps_done: int, current: int | None, total_steps: int) -> bool:
    """Whether ``total_steps`` differs from ``current``; a change once training started raises."""
    if current == total_steps:
        return False
    if steps_done > 0:
        raise ValueError(
            f"the run's length cannot change after training started (step {steps_done}, "
            f"total_steps {current} -> {total_steps})"
        )
    return True


def require_run_length(owner: str, total_steps: int | None) -> None:
    """Raise ValueError while ``total_steps``, the run's length, is still unknown."""
    if total_steps is None:
        raise ValueError(
            f"{owner} does not know the run's length: pass total_steps=T when building it, "
            "or call set_total_steps(T) before the first step (MMEngine's SAMOptimWrapper "
            "does so from train_cfg)"
        )


def check_base_optimizer(base_optimizer: Any) -> None:
    """Raise TypeError unless ``base_optimizer`` is a torch.optim.Optimizer subclass."""
    if isinstance(base_optimizer, torch.optim.Optimizer):
        raise TypeError(
            "base_optimizer must be an optimizer class such as torch.optim.SGD, not an "
            f"instance ({type(base_optimizer).__name__}); pass its keyword arguments "
            "(lr=..., momentum=...) to the SAM/ARSAM constructor instead"
        )
    if not (isinstance(base_optimizer, type) and issubclass(base_optimizer, torch.optim.Optimizer)):
        raise TypeError(
            "base_optimizer must be a torch.optim.Optimizer subclass such as torch.optim.SGD, "
            f"got {base_optimizer!r}"
        )


def require_closure(closure: Callable[[], Any] | None, owner: str) -> Callable[[], Any]:
    """Return ``closure`` or raise a TypeError explaining what the two-pass step needs."""
    if closure is None or not callable(closure):
        raise TypeError(
            f"{owner}.step() needs a closure that clears the gradients, computes the loss on the "
            "current batch, calls backward() and returns the loss: it runs the forward-backward "
            "pass again at perturbed weights. Call it as opt.step(closure)."
        )
    return closure


def check_max_grad_norm(value: Any) -> None:
    """Raise ValueError/TypeError unless ``value`` is None (no clipping) or a finite number > 0."""
    if value is None:
        return
    try:
        check_number("max_grad_norm", value, low=0.0, low_open=True)
    except (TypeError, ValueError) as error:
        raise type(error)(
            f"{error}: it is the largest global gradient norm kept, and a bound <= 0 erases or "
            "flips every gradient. Give a positive number, or None for no clipping."
        ) from None


def check_grad_norm_type(value: Any) -> None:
    """Raise ValueError/TypeError unless ``value`` is a number > 0 or inf (the p of the p-norm)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == math.inf:
        return
    try:
        check_number("grad_norm_type", value, low=0.0, low_open=True)
    except (TypeError, ValueError) as error:
        raise type(error)(
            f"{error}: it is the p of the p-norm that clipping measures, > 0 or float('inf') "
            "for the largest absolute entry. Give 2.0 (the default) for the Euclidean norm."
        ) from None
