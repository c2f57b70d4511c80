"""Optimizers by name: the workload's base optimizer, or a two-pass method around it.

``optimizer_class`` is the only place that maps a name to a class.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

BASE = "base"
BASE_OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "SGD": torch.optim.SGD,
    "Adam": torch.optim.Adam,
    "AdamW": torch.optim.AdamW,
}
# Arguments that are not constructor arguments: converted by ``build_optimizer``.
WARMUP_FRACTION = "warmup_fraction"


@dataclass(frozen=True)
class OptimizerSpec:
    """A named optimizer configuration: ``name`` (class) with ``kwargs``, reported as ``label``.

    ``name`` is ``'base'`` (the workload's base optimizer alone), a registered two-pass
    optimizer (``'SAM'``, ``'ARSAM'``, ...) or ``'package.module:Class'``. ``kwargs`` may
    hold ``warmup_fraction``: the warm-up as a fraction of the run's steps.
    """

    label: str
    name: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)


# Peers at the defaults of their papers; the paper's ARSAM with its CIFAR warm-up (3 of 200
# epochs). "ARSAM" itself takes no options: given the run's length it is horizon-aware.
DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "ARSAM-paper": {"window": 50, "reuse_steps": 6, "reuse_decay": 0.7, WARMUP_FRACTION: 3 / 200},
}


def suite_optimizers() -> tuple[str, ...]:
    """The base optimizer and every registered two-pass method."""
    from core.registry import TWO_PASS_METHODS

    return (BASE, *TWO_PASS_METHODS)


# The CI subset: the base optimizer, SAM and both ARSAM schedules.
QUICK_OPTIMIZERS = (BASE, "SAM", "ARSAM-paper", "ARSAM")


def optimizer_spec(item: OptimizerSpec | str) -> OptimizerSpec:
    """``item`` itself, or the spec of a plain name with that optimizer's default options."""
    if isinstance(item, OptimizerSpec):
        return item
    return OptimizerSpec(item, item, dict(DEFAULT_OPTIONS.get(item, {})))


def optimizer_class(name: str) -> type[torch.optim.Optimizer]:
    """The two-pass optimizer class registered as ``name``, or imported from 'module:Class'."""
    if ":" in name:
        module, _, attribute = name.partition(":")
        return getattr(importlib.import_module(module), attribute)
    from core.registry import TWO_PASS_METHODS

    if name not in TWO_PASS_METHODS:
        known = ", ".join(sorted(TWO_PASS_METHODS))
        raise ValueError(f"unknown optimizer {name!r}; known: {BASE}, {known}, or 'module:Class'")
    return TWO_PASS_METHODS[name].optimizer_class


def registered_options(name: str) -> dict[str, Any]:
    """The fixed options a registered method carries (e.g. ARSAM-paper's schedule='paper')."""
    from core.registry import TWO_PASS_METHODS

    spec = TWO_PASS_METHODS.get(name)
    return dict(spec.options) if spec is not None else {}


def constructor_kwargs(
    klass: type, kwargs: Mapping[str, Any], total_steps: int, seed: int
) -> dict[str, Any]:
    """``kwargs`` plus ``total_steps``/``seed`` where ``klass`` takes them; warm-up in steps."""
    accepted = inspect.signature(klass).parameters
    resolved = dict(kwargs)
    fraction = None if WARMUP_FRACTION in accepted else resolved.pop(WARMUP_FRACTION, None)
    if fraction is not None:
        if "warmup_steps" not in accepted:
            raise ValueError(f"{klass.__name__} takes no warmup_steps for {WARMUP_FRACTION}")
        resolved["warmup_steps"] = math.ceil(fraction * total_steps)
    if "total_steps" in accepted:
        resolved.setdefault("total_steps", total_steps)
    if "seed" in accepted:
        resolved.setdefault("seed", seed)
    return resolved


def build_optimizer(
    spec: OptimizerSpec,
    params: Iterable[torch.Tensor],
    base: str,
    base_kwargs: Mapping[str, Any],
    rho: float,
    total_steps: int,
    seed: int,
) -> tuple[torch.optim.Optimizer, dict[str, Any]]:
    """The optimizer of ``spec`` around ``base`` and the keyword arguments it was built with."""
    if base not in BASE_OPTIMIZERS:
        raise ValueError(f"unknown base optimizer {base!r}; known: {', '.join(BASE_OPTIMIZERS)}")
    base_class = BASE_OPTIMIZERS[base]
    if spec.name == BASE:
        kwargs = {**base_kwargs, **spec.kwargs}
        return base_class(params, **kwargs), kwargs
    klass = optimizer_class(spec.name)
    options = {**registered_options(spec.name), **spec.kwargs}
    kwargs = {"rho": rho, **constructor_kwargs(klass, options, total_steps, seed)}
    overlap = set(kwargs) & set(base_kwargs)
    if overlap:
        raise ValueError(f"{sorted(overlap)} given to both {spec.label} and the base optimizer")
    return klass(params, base_class, **kwargs, **base_kwargs), kwargs
