"""Callbacks that report a two-pass optimizer's ``stats`` through other trainers' loggers.

``arsam.core.integrations.hf_trainer`` (Hugging Face ``Trainer``) and
``arsam.core.integrations.lightning_trainer`` (Lightning) import their trainer library
themselves; this package imports nothing beyond torch, so ``core`` stays torch-only.
"""

from __future__ import annotations

import math
from typing import Any

from arsam.core.two_pass import TwoPassOptimizer

DEFAULT_PREFIX = "two_pass/"

# Attributes that wrappers use for the optimizer they hold: accelerate's AcceleratedOptimizer
# and Lightning's LightningOptimizer (``optimizer``), the HF recipe's stand-in (``two_pass``).
_WRAPPED = ("two_pass", "optimizer", "_optimizer")


def find_two_pass(optimizer: Any) -> TwoPassOptimizer | None:
    """The two-pass optimizer ``optimizer`` is or wraps (through a few wrappers), else None."""
    seen: set[int] = set()
    while optimizer is not None and id(optimizer) not in seen:
        if isinstance(optimizer, TwoPassOptimizer):
            return optimizer
        seen.add(id(optimizer))
        optimizer = next(
            (getattr(optimizer, name) for name in _WRAPPED if hasattr(optimizer, name)), None
        )
    return None


def loggable_stats(optimizer: TwoPassOptimizer, prefix: str = DEFAULT_PREFIX) -> dict[str, float]:
    """``optimizer.stats`` as floats under ``prefix``, without NaN (no PSF measured yet)."""
    stats = {}
    for key, value in optimizer.stats.items():
        number = float(value)
        if not math.isnan(number):
            stats[f"{prefix}{key}"] = number
    return stats


def no_two_pass_optimizer(trainer: str, found: Any) -> TypeError:
    """The error for a callback whose trainer holds no two-pass optimizer."""
    return TypeError(
        f"the two-pass stats callback found no SAM/ARSAM optimizer in the {trainer}'s optimizer "
        f"({type(found).__name__}): it reports the stats of an arsam.core.TwoPassOptimizer "
        "(SAM, ARSAM and the peers) or of a wrapper holding one as .optimizer or .two_pass. "
        f"Build the {trainer}'s optimizer as in docs/recipes.md, or give the callback the "
        "optimizer itself (optimizer=opt)."
    )
