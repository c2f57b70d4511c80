"""What the suite and the benchmark compare: the base run and every registered method.

The base optimizer's own run (no SAM) is called ``base``; every other name is a method of
``arsam.core.registry`` (built by ``arsam.core.registry.build_method``) or a
``'package.module:Class'``.
The suite's warm-up fraction becomes warm-up steps here, and nowhere else.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from arsam.core.registry import RENAMED, TWO_PASS_METHODS, MethodSpec, method_spec

BASE = "base"
BASE_OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "SGD": torch.optim.SGD,
    "Adam": torch.optim.Adam,
    "AdamW": torch.optim.AdamW,
}
# Not a constructor argument: ``build_optimizer`` turns it into ``warmup_steps``.
WARMUP_FRACTION = "warmup_fraction"


@dataclass(frozen=True)
class OptimizerSpec:
    """A named optimizer configuration: ``name`` (class) with ``kwargs``, reported as ``label``.

    ``name`` is ``'base'`` (the workload's base optimizer alone), a registered two-pass
    optimizer (``'SAM'``, ``'ARSAM'``, ``'ARSAMPaper'``, ...) or ``'package.module:Class'``.
    ``kwargs`` may hold ``warmup_fraction``: the warm-up as a fraction of the run's steps.
    """

    label: str
    name: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)


# Peers at the defaults of their papers; the paper's ARSAM with its CIFAR warm-up (3 of 200
# epochs). "ARSAM" itself takes no options: given the run's length it is horizon-aware.
DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "ARSAMPaper": {"window": 50, "reuse_steps": 6, "reuse_decay": 0.7, WARMUP_FRACTION: 3 / 200},
}

# The CI subset: the base run, SAM and both ARSAM schedules.
QUICK_OPTIMIZERS = (BASE, "SAM", "ARSAMPaper", "ARSAM")


def suite_optimizers() -> tuple[str, ...]:
    """The base run and every registered two-pass method, in registration order."""
    return (BASE, *TWO_PASS_METHODS)


def is_two_pass(name: str) -> bool:
    """Whether ``name`` is a registered two-pass method."""
    return name in TWO_PASS_METHODS


def check_names(names: Iterable[str]) -> list[str]:
    """``names`` as a list, or one ValueError paragraph naming each unknown one and its fix."""
    names = list(names)
    problems = []
    for name in names:
        if name == BASE or is_two_pass(name) or ":" in name:
            continue
        if name in BASE_OPTIMIZERS or name.lower() in {n.lower() for n in BASE_OPTIMIZERS}:
            problems.append(f"{name!r} is the base optimizer's own run, which is called {BASE!r}")
        elif name in RENAMED:
            problems.append(f"{name!r} is now called {RENAMED[name]!r}")
        else:
            problems.append(f"{name!r} is not registered")
    if problems:
        raise ValueError(
            f"unknown optimizer name(s): {'; '.join(problems)}. Give {BASE!r} (the base "
            f"optimizer alone: SGD, Adam or AdamW as the workload or config sets it), a "
            f"registered method ({', '.join(TWO_PASS_METHODS)}) or 'package.module:Class'."
        )
    return names


def optimizer_spec(item: OptimizerSpec | str) -> OptimizerSpec:
    """``item`` itself, or the spec of a plain name with that optimizer's default options."""
    if isinstance(item, OptimizerSpec):
        return item
    return OptimizerSpec(item, item, dict(DEFAULT_OPTIONS.get(item, {})))


def method_of(name: str) -> MethodSpec:
    """The registered method ``name``, or an unregistered spec of the class at 'module:Class'."""
    if ":" in name:
        module, _, attribute = name.partition(":")
        return MethodSpec(name, getattr(importlib.import_module(module), attribute))
    check_names([name])
    return method_spec(name)


def optimizer_class(name: str) -> type[torch.optim.Optimizer]:
    """The two-pass optimizer class registered as ``name``, or imported from 'module:Class'."""
    return method_of(name).optimizer_class


def warmup_steps(fraction: float, total_steps: int) -> int:
    """The warm-up steps of a warm-up given as a ``fraction`` of a run of ``total_steps``."""
    return math.ceil(fraction * total_steps)


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
        raise ValueError(
            f"unknown base optimizer {base!r}: give one of {', '.join(BASE_OPTIMIZERS)}"
        )
    base_class = BASE_OPTIMIZERS[base]
    if spec.name == BASE:
        kwargs = {**base_kwargs, **spec.kwargs}
        return base_class(params, **kwargs), kwargs
    method = method_of(spec.name)
    options = dict(spec.kwargs)
    if WARMUP_FRACTION in options:
        options["warmup_steps"] = warmup_steps(options.pop(WARMUP_FRACTION), total_steps)
    kwargs = {"rho": rho, **options}
    for argument, value in (("total_steps", total_steps), ("seed", seed)):
        if method.accepts(argument):
            kwargs.setdefault(argument, value)
    overlap = set(kwargs) & set(base_kwargs)
    if overlap:
        raise ValueError(
            f"{sorted(overlap)} given both to {spec.label} and to the base optimizer: give "
            "each argument once, in the method's options or in the base optimizer's"
        )
    return method.build(params, base_class, **kwargs, **base_kwargs), kwargs
