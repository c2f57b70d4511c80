"""The one registry of two-pass methods: configs, tools and the contract tests all read it.

A method registered here is buildable from MMEngine configs (the adapter mirrors
every entry into MMEngine's OPTIMIZERS), is measured by ``tools/benchmark.py`` and
``tools/compare.py``, and runs the contract suite in tests/core/test_contract.py.
Add one with::

    register_method("MySAM", MySAM, contract_options=dict(k=2))

and build any registered method by name with ``build_method``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from .ae_sam import AESAM
from .arsam import ARSAM, ARSAMPaper
from .esam import ESAM
from .late_sam import LateSAM
from .looksam import LookSAM
from .momentum_sam import MomentumSAM
from .rst import RandomSAM
from .sam import SAM
from .sam_k import SAMK
from .two_pass import TwoPassOptimizer


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: its class, fixed options and the options its contract tests use."""

    name: str
    optimizer_class: type[TwoPassOptimizer]
    options: dict[str, Any] = field(default_factory=dict)
    contract_options: dict[str, Any] = field(default_factory=dict)

    def accepts(self, argument: str) -> bool:
        """Whether the optimizer's constructor takes ``argument``."""
        return argument in inspect.signature(self.optimizer_class).parameters

    def build(
        self,
        params: Iterable[Any],
        base_optimizer: type[torch.optim.Optimizer],
        *,
        total_steps: int | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> TwoPassOptimizer:
        """The optimizer, given the run's length and seed where its constructor takes them."""
        arguments = {**self.options, **kwargs}
        if total_steps is not None and self.accepts("total_steps"):
            arguments.setdefault("total_steps", total_steps)
        if seed is not None and self.accepts("seed"):
            arguments.setdefault("seed", seed)
        return self.optimizer_class(params, base_optimizer, **arguments)


TWO_PASS_METHODS: dict[str, MethodSpec] = {}
_LISTENERS: list[Callable[[MethodSpec], None]] = []


def register_method(
    name: str,
    optimizer_class: type[TwoPassOptimizer],
    *,
    options: dict[str, Any] | None = None,
    contract_options: dict[str, Any] | None = None,
) -> MethodSpec:
    """Register ``optimizer_class`` under ``name`` (with fixed ``options``) for every front-end."""
    if not (isinstance(optimizer_class, type) and issubclass(optimizer_class, TwoPassOptimizer)):
        raise TypeError(
            f"register_method({name!r}, ...) needs a TwoPassOptimizer subclass, got "
            f"{optimizer_class!r}"
        )
    spec = MethodSpec(name, optimizer_class, dict(options or {}), dict(contract_options or {}))
    TWO_PASS_METHODS[name] = spec
    for listener in _LISTENERS:
        listener(spec)
    return spec


def method_spec(name: str) -> MethodSpec:
    """The registered method ``name``; an unknown name raises a paragraph listing the known."""
    if name in TWO_PASS_METHODS:
        return TWO_PASS_METHODS[name]
    renamed = RENAMED.get(name)
    advice = f" {name!r} is now called {renamed!r}." if renamed else ""
    raise ValueError(
        f"no two-pass method is registered as {name!r}.{advice} Registered: "
        f"{', '.join(TWO_PASS_METHODS)}. Give one of these names (Python, configs and tools "
        "use the same ones), or register the method with arsam.core.registry.register_method."
    )


def build_method(
    name: str,
    params: Iterable[Any],
    base_optimizer: type[torch.optim.Optimizer],
    *,
    total_steps: int | None = None,
    seed: int | None = None,
    **options: Any,
) -> TwoPassOptimizer:
    """The registered method ``name`` built around ``base_optimizer`` with ``options``."""
    spec = method_spec(name)
    return spec.build(params, base_optimizer, total_steps=total_steps, seed=seed, **options)


def on_register(listener: Callable[[MethodSpec], None]) -> None:
    """Call ``listener`` for every method registered so far and every one registered later."""
    _LISTENERS.append(listener)
    for spec in list(TWO_PASS_METHODS.values()):
        listener(spec)


# Names earlier versions registered, and the method each became.
RENAMED = {"ARSAM-paper": "ARSAMPaper"}

register_method("SAM", SAM)
register_method("ARSAM", ARSAM)
register_method("ARSAMPaper", ARSAMPaper, contract_options=dict(warmup_steps=3, window=10))
register_method("LateSAM", LateSAM)
register_method("SAMK", SAMK, contract_options=dict(k=3))
register_method("LookSAM", LookSAM, contract_options=dict(k=3))
register_method("AESAM", AESAM)
register_method("RandomSAM", RandomSAM)
register_method("MomentumSAM", MomentumSAM)
# the contract closures return one scalar loss: stochastic weight perturbation alone
register_method("ESAM", ESAM, contract_options=dict(gamma=1.0))
