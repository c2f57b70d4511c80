"""Keep training-mode statistics out of the second (perturbed) pass of a SAM-style step.

A module that collects statistics while training (BatchNorm's running mean and
variance, a quantizer that calibrates its scale over the first N forwards) must
see each minibatch once, not twice per SAM step, and never at perturbed
weights. Module types join the mechanism with ``register_statistics_freezer``;
``FrozenStatistics(model)`` then freezes every such module of a model for the
duration of a ``with`` block. The optimizers enter that block around the second
pass of every SAM step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

Undo = Callable[[], None]
Freezer = Callable[[nn.Module], Undo]

_FREEZERS: dict[type, Freezer] = {}


def register_statistics_freezer(*module_types: type) -> Callable[[Freezer], Freezer]:
    """Declare how modules of ``module_types`` stop updating statistics during a second pass.

    The decorated function takes a module, freezes it, and returns a function
    that undoes exactly that. Subclasses inherit their closest base's freezer.
    """
    if not module_types or not all(isinstance(t, type) for t in module_types):
        raise TypeError("register_statistics_freezer takes one or more module classes")

    def register(freezer: Freezer) -> Freezer:
        for module_type in module_types:
            _FREEZERS[module_type] = freezer
        return freezer

    return register


def freezer_for(module: nn.Module) -> Freezer | None:
    """The freezer registered for ``module``'s type or its closest registered base class."""
    for klass in type(module).__mro__:
        if klass in _FREEZERS:
            return _FREEZERS[klass]
    return None


def _nothing_to_undo() -> None:
    return None


@register_statistics_freezer(nn.modules.batchnorm._NormBase)
def freeze_running_stats(module: nn.Module) -> Undo:
    """Normalise with batch statistics but leave running_mean/var and num_batches_tracked alone."""
    if not (module.training and module.track_running_stats):
        return _nothing_to_undo
    module.track_running_stats = False

    def undo() -> None:
        module.track_running_stats = True

    return undo


def restore_buffers_afterwards(module: nn.Module) -> Undo:
    """Generic freezer: snapshot the module's own buffers and put them back afterwards.

    For statistics that cannot be switched off, only reverted. Costs one copy of
    the module's buffers per second pass, so register it only for small,
    statistics-holding modules.
    """
    saved = {name: buf.detach().clone() for name, buf in module.named_buffers(recurse=False)}

    def undo() -> None:
        with torch.no_grad():
            for name, value in saved.items():
                getattr(module, name).copy_(value)

    return undo


class FrozenStatistics:
    """Every statistics-collecting module of one model, frozen together on demand.

    ``with frozen():`` freezes them; leaving the block restores each module
    exactly, also when the block raises.
    """

    def __init__(self, model: nn.Module) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"FrozenStatistics needs an nn.Module, got {type(model).__name__}")
        self.model = model

    def members(self) -> list[tuple[nn.Module, Freezer]]:
        """The (module, freezer) pairs this model holds now."""
        pairs = []
        for module in self.model.modules():
            freezer = freezer_for(module)
            if freezer is not None:
                pairs.append((module, freezer))
        return pairs

    @contextmanager
    def __call__(self) -> Iterator[None]:
        undos: list[Undo] = []
        try:
            for module, freezer in self.members():
                undos.append(freezer(module))
            yield
        finally:
            for undo in reversed(undos):
                undo()
