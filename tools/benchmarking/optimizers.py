"""The optimizers compared: the base optimizer alone, and every method of core.registry.

One registry feeds configs, tools and tests: a method registered with
``core.registry.register_method`` (or the adapter's ``register_two_pass_optimizer``)
is measured here without further changes.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import mmengine.optim  # noqa: F401  (registers torch's optimizers in OPTIMIZERS)
import torch
from mmengine.registry import OPTIMIZERS

import core.mmengine_adapter  # noqa: F401  (mirrors core.registry into OPTIMIZERS)
from core.registry import TWO_PASS_METHODS

# The base optimizer's run is named after it; "SGD" is the default base.
PLAIN_OPTIMIZERS = ("SGD", "Adam", "AdamW")


class _AllOptimizers(Sequence):
    """ "SGD" followed by every registered two-pass method, always current."""

    def _names(self) -> list[str]:
        return ["SGD", *TWO_PASS_METHODS]

    def __getitem__(self, index: Any) -> Any:
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())


ALL_OPTIMIZERS: Sequence[str] = _AllOptimizers()


def check_names(names: Iterable[str]) -> list[str]:
    """``names`` as a list, or ValueError naming the unknown ones."""
    names = list(names)
    known = [*PLAIN_OPTIMIZERS, *TWO_PASS_METHODS]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown optimizer(s) {unknown}; choose from {', '.join(known)}")
    return names


def is_two_pass(name: str) -> bool:
    """Whether ``name`` is a registered two-pass method (runs through SAMOptimWrapper)."""
    return name in TWO_PASS_METHODS


def takes(name: str, argument: str) -> bool:
    """Whether method ``name``'s constructor takes ``argument`` (total_steps, seed...)."""
    return is_two_pass(name) and TWO_PASS_METHODS[name].accepts(argument)


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
    ``window`` for ARSAM); they win over everything else. The run's length and seed
    go to the methods whose constructor takes them.
    """
    check_names([name])
    options = dict(options or {})
    if not is_two_pass(name):
        return {**copy.deepcopy(dict(base)), **options}
    config: dict[str, Any] = {"type": name, "base_optimizer": copy.deepcopy(dict(base)), "rho": rho}
    if takes(name, "total_steps") and total_steps is not None:
        config["total_steps"] = int(total_steps)
    if takes(name, "seed") and seed is not None:
        config["seed"] = int(seed)
    config.update(options)
    if "warmup_steps" in config:
        config.pop("warmup_epochs", None)
    return config


def build_optimizer(config: Mapping[str, Any], params: Iterable[Any]) -> torch.optim.Optimizer:
    """Build an ``optimizer_config`` result for ``params`` through MMEngine's OPTIMIZERS."""
    return OPTIMIZERS.build({**copy.deepcopy(dict(config)), "params": params})
