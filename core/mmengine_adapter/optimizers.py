"""SAM, ARSAM and the peers in MMEngine's OPTIMIZERS registry, with the base optimizer as a config.

    optimizer=dict(type='ARSAM', base_optimizer=dict(type='SGD', lr=0.05, momentum=0.9),
                   rho=0.05, warmup_epochs=3)

``warmup_epochs`` is kept on the optimizer and converted to steps by
SAMOptimWrapper once the length of an epoch is known.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
from mmengine.registry import OPTIMIZERS

from .. import AESAM, ARSAM, SAM, SAMK, LookSAM, RandomSAM

TWO_PASS_OPTIMIZERS: dict[str, type[SAM]] = {
    "SAM": SAM,
    "ARSAM": ARSAM,
    "SAMK": SAMK,
    "LookSAM": LookSAM,
    "AESAM": AESAM,
    "RandomSAM": RandomSAM,
}


def resolve_base_optimizer(config: Any) -> tuple[type[torch.optim.Optimizer], dict[str, Any]]:
    """The optimizer class and keyword arguments named by a ``base_optimizer`` config."""
    if isinstance(config, str):
        config = {"type": config}
    if not isinstance(config, dict) or "type" not in config:
        raise TypeError(
            "base_optimizer must be a dict with a 'type', e.g. "
            f"base_optimizer=dict(type='SGD', lr=0.1, momentum=0.9); got {config!r}"
        )
    kwargs = dict(config)
    name = kwargs.pop("type")
    klass = OPTIMIZERS.get(name) if isinstance(name, str) else name
    if not (isinstance(klass, type) and issubclass(klass, torch.optim.Optimizer)):
        known = sorted(k for k, v in OPTIMIZERS.module_dict.items() if isinstance(v, type))
        raise ValueError(
            f"base_optimizer type {name!r} is not a torch optimizer in MMEngine's OPTIMIZERS "
            f"registry. Known: {', '.join(known)}."
        )
    return klass, kwargs


def _builder(optimizer_class: type[SAM]) -> Callable[..., SAM]:
    def build(
        params: Any, base_optimizer: Any, warmup_epochs: float | None = None, **kwargs: Any
    ) -> SAM:
        klass, base_kwargs = resolve_base_optimizer(base_optimizer)
        overlap = set(kwargs) & set(base_kwargs)
        if overlap:
            raise ValueError(
                f"{sorted(overlap)} given both to {optimizer_class.__name__} and to its "
                "base_optimizer: give each argument once"
            )
        if warmup_epochs is not None:
            if "warmup_steps" in kwargs:
                raise ValueError("give warmup_epochs or warmup_steps, not both")
            if "warmup_steps" not in inspect.signature(optimizer_class).parameters:
                raise ValueError(f"{optimizer_class.__name__} has no warm-up to give in epochs")
        optimizer = optimizer_class(params, klass, **kwargs, **base_kwargs)
        optimizer.warmup_epochs = warmup_epochs
        return optimizer

    build.__name__ = build.__qualname__ = f"build_{optimizer_class.__name__}"
    build.__doc__ = f"Build {optimizer_class.__name__} around the configured base optimizer."
    return build


def register_two_pass_optimizer(name: str, optimizer_class: type[SAM]) -> None:
    """Make ``optimizer_class`` buildable as ``optimizer=dict(type=name, base_optimizer=...)``."""
    TWO_PASS_OPTIMIZERS[name] = optimizer_class
    OPTIMIZERS.register_module(name=name, module=_builder(optimizer_class), force=True)


for _name, _klass in list(TWO_PASS_OPTIMIZERS.items()):
    register_two_pass_optimizer(_name, _klass)
