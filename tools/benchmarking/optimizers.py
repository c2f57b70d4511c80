"""The optimizers compared, as MMEngine ``optimizer`` configs, and how to build them."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import mmengine.optim  # noqa: F401  (registers torch's optimizers in OPTIMIZERS)
import torch
from mmengine.registry import OPTIMIZERS

import core.mmengine_adapter  # noqa: F401  (registers SAM, ARSAM and the peers)

ALL_OPTIMIZERS = ("SGD", "SAM", "ARSAM", "SAMK", "LookSAM", "AESAM", "RandomSAM")
PLAIN_OPTIMIZERS = ("SGD",)
# Optimizers that take the run's length: AESAM's threshold schedule and RandomSAM's p_t ramp.
TAKES_TOTAL_STEPS = ("AESAM", "RandomSAM")
# Optimizers with a placement generator whose seed follows the run's seed.
TAKES_SEED = ("ARSAM", "RandomSAM")


def check_names(names: Iterable[str]) -> list[str]:
    """``names`` as a list, or ValueError naming the unknown ones."""
    names = list(names)
    unknown = [n for n in names if n not in ALL_OPTIMIZERS]
    if unknown:
        raise ValueError(f"unknown optimizer(s) {unknown}; choose from {', '.join(ALL_OPTIMIZERS)}")
    return names


def is_two_pass(name: str) -> bool:
    """Whether ``name`` is a SAM-family optimizer (runs through SAMOptimWrapper)."""
    return name not in PLAIN_OPTIMIZERS


def optimizer_config(
    name: str,
    base: Mapping[str, Any],
    rho: float = 0.05,
    total_steps: int | None = None,
    seed: int | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``optimizer`` config of ``name`` around the base optimizer config ``base``.

    ``options`` are extra keyword arguments of that optimizer (e.g. ``k`` for SAMK,
    ``window`` for ARSAM); they win over everything else.
    """
    check_names([name])
    options = dict(options or {})
    if not is_two_pass(name):
        return {**copy.deepcopy(dict(base)), **options}
    config: dict[str, Any] = {"type": name, "base_optimizer": copy.deepcopy(dict(base)), "rho": rho}
    if name in TAKES_TOTAL_STEPS and total_steps is not None:
        config["total_steps"] = int(total_steps)
    if name in TAKES_SEED and seed is not None:
        config["seed"] = int(seed)
    config.update(options)
    if "warmup_steps" in config:
        config.pop("warmup_epochs", None)
    return config


def build_optimizer(config: Mapping[str, Any], params: Iterable[Any]) -> torch.optim.Optimizer:
    """Build an ``optimizer_config`` result for ``params`` through MMEngine's OPTIMIZERS."""
    return OPTIMIZERS.build({**copy.deepcopy(dict(config)), "params": params})
