"""Every method of arsam.core.registry in MMEngine's OPTIMIZERS, the base optimizer a config.

    optimizer=dict(type='ARSAMPaper', base_optimizer=dict(type='SGD', lr=0.05, momentum=0.9),
                   rho=0.05, warmup_epochs=3)

``warmup_epochs`` (ARSAMPaper only) is kept on the optimizer and converted to
``warmup_steps`` by SAMOptimWrapper once the length of an epoch is known; the run's
length reaches every method through ``set_total_steps`` there as well.
``TWO_PASS_OPTIMIZERS`` is arsam.core.registry's ``TWO_PASS_METHODS`` seen as MMEngine sees
it, config type -> class (the config checks of tools/cli compare built classes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
from mmengine.registry import OPTIMIZERS

from ..registry import RENAMED, TWO_PASS_METHODS, MethodSpec, on_register
from ..two_pass import TwoPassOptimizer


class _ClassesByName(Mapping):
    """Name -> class of every method in arsam.core.registry, always current (a read-only view)."""

    def __getitem__(self, name: str) -> type[TwoPassOptimizer]:
        return TWO_PASS_METHODS[name].optimizer_class

    def __iter__(self) -> Iterator[str]:
        return iter(TWO_PASS_METHODS)

    def __len__(self) -> int:
        return len(TWO_PASS_METHODS)


TWO_PASS_OPTIMIZERS: Mapping[str, type[TwoPassOptimizer]] = _ClassesByName()


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


def _builder(spec: MethodSpec) -> Callable[..., TwoPassOptimizer]:
    def build(
        params: Any, base_optimizer: Any, warmup_epochs: float | None = None, **kwargs: Any
    ) -> TwoPassOptimizer:
        klass, base_kwargs = resolve_base_optimizer(base_optimizer)
        overlap = set(kwargs) & set(base_kwargs)
        if overlap:
            raise ValueError(
                f"{sorted(overlap)} given both to {spec.name} and to its "
                "base_optimizer: give each argument once"
            )
        if warmup_epochs is not None:
            if "warmup_steps" in kwargs:
                raise ValueError("give warmup_epochs or warmup_steps, not both")
            if spec.name == "ARSAM":
                raise ValueError(
                    "ARSAM got warmup_epochs: ARSAM's horizon-aware schedule picks its own "
                    "warm-up from the run's length (horizon_options=dict(warmup_fraction=...) "
                    "for studies). Drop warmup_epochs, or use type='ARSAMPaper' for the paper's "
                    "schedule with a warm-up in epochs."
                )
            if not spec.accepts("warmup_steps"):
                raise ValueError(f"{spec.name} has no warm-up to give in epochs")
        optimizer = spec.build(params, klass, **kwargs, **base_kwargs)
        optimizer.warmup_epochs = warmup_epochs
        return optimizer

    build.__name__ = build.__qualname__ = f"build_{spec.name}"
    build.__doc__ = f"Build {spec.name} around the configured base optimizer."
    return build


def _mirror(spec: MethodSpec) -> None:
    OPTIMIZERS.register_module(name=spec.name, module=_builder(spec), force=True)


def _refusal(old: str, new: str) -> Callable[..., TwoPassOptimizer]:
    def build(*args: Any, **kwargs: Any) -> TwoPassOptimizer:
        raise ValueError(
            f"optimizer type {old!r} is now called {new!r}: write "
            f"optimizer=dict(type={new!r}, ...) with the same arguments (drop schedule='paper')."
        )

    build.__name__ = build.__qualname__ = f"refuse_{new}"
    build.__doc__ = f"Refuse the old name {old!r} of {new}."
    return build


on_register(_mirror)
for _old, _new in RENAMED.items():
    OPTIMIZERS.register_module(name=_old, module=_refusal(_old, _new), force=True)
__all__ = ["TWO_PASS_METHODS", "TWO_PASS_OPTIMIZERS"]
