"""Keep training-mode statistics out of the second (perturbed) pass of a SAM-style step.

A module that collects statistics while training (BatchNorm's running mean and
variance, a quantizer that calibrates its scale over the first N forwards) must
see each minibatch once, not twice per SAM step, and never at perturbed
weights. Module types join the mechanism with ``register_statistics_freezer``;
``FrozenStatistics(model)`` then freezes every such module of a model for the
duration of a ``with`` block. The optimizers enter that block around the second
pass of every SAM step.

A step the optimizer skips (non-finite gradients) must not move the statistics either,
although its first pass ran in training mode before anyone saw the gradient.
``StatisticsSnapshot`` copies what each registered module declares as its statistics
(``state=`` at registration; its own buffers by default) and puts it back on demand;
``SkippedStepStatistics`` decides when an optimizer takes, restores and drops that copy.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

Undo = Callable[[], None]
Freezer = Callable[[nn.Module], Undo]

_FREEZERS: dict[type, Freezer] = {}
_STATE_NAMES: dict[type, tuple[str, ...] | None] = {}


def register_statistics_freezer(
    *module_types: type, state: Iterable[str] | None = None
) -> Callable[[Freezer], Freezer]:
    """Declare how modules of ``module_types`` stop updating statistics during a second pass.

    The decorated function takes a module, freezes it, and returns a function
    that undoes exactly that. Subclasses inherit their closest base's freezer.
    ``state`` names the module attributes that hold its statistics (tensors, or
    plain values such as a counter or a flag): a skipped optimizer step puts them
    back as they were before its first pass. Default: the module's own buffers.
    """
    if not module_types or not all(isinstance(t, type) for t in module_types):
        raise TypeError("register_statistics_freezer takes one or more module classes")
    names = None if state is None else tuple(state)
    if isinstance(state, str) or (names is not None and not all(isinstance(n, str) for n in names)):
        raise TypeError("state= takes attribute names, e.g. state=('counter', 'running_stats')")

    def register(freezer: Freezer) -> Freezer:
        for module_type in module_types:
            _FREEZERS[module_type] = freezer
            _STATE_NAMES[module_type] = names
        return freezer

    return register


def _registered_type(module: nn.Module) -> type | None:
    """``module``'s type or its closest base class with a registered freezer."""
    for klass in type(module).__mro__:
        if klass in _FREEZERS:
            return klass
    return None


def freezer_for(module: nn.Module) -> Freezer | None:
    """The freezer registered for ``module``'s type or its closest registered base class."""
    klass = _registered_type(module)
    return None if klass is None else _FREEZERS[klass]


def statistics_state_names(module: nn.Module) -> tuple[str, ...]:
    """The attributes of ``module`` that hold its statistics (its own buffers unless declared)."""
    klass = _registered_type(module)
    names = None if klass is None else _STATE_NAMES[klass]
    if names is None:
        return tuple(name for name, _ in module.named_buffers(recurse=False))
    return names


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


class StatisticsSnapshot:
    """The statistics of some modules at one instant, put back on demand.

    Tensors are copied with one multi-tensor copy per device and dtype into buffers kept
    from the previous snapshot while their shapes do not change; plain values (counters,
    flags) are kept as they are. Nothing is allocated until the first snapshot is taken.
    """

    def __init__(self) -> None:
        self._owners: list[tuple[nn.Module, str, Tensor]] = []
        self._copies: list[Tensor] = []
        self._values: list[tuple[nn.Module, str, Any]] = []
        self.taken = False

    def take(self, modules: Iterable[nn.Module]) -> None:
        """Copy the statistics of ``modules`` now (replacing an earlier snapshot)."""
        owners, values = [], []
        for module in modules:
            for name in statistics_state_names(module):
                value = getattr(module, name, None)
                if isinstance(value, Tensor):
                    owners.append((module, name, value))
                else:
                    values.append((module, name, value))
        tensors = [tensor for _, _, tensor in owners]
        if not _same_layout(tensors, self._copies):
            self._copies = [torch.empty_like(t, requires_grad=False) for t in tensors]
        _copy_grouped(self._copies, tensors)
        self._owners, self._values, self.taken = owners, values, True

    def restore(self) -> None:
        """Put the statistics back as they were when taken; nothing if no snapshot is held."""
        if not self.taken:
            return
        for module, name, tensor in self._owners:
            if getattr(module, name, None) is not tensor:
                setattr(module, name, tensor)
        _copy_grouped([t for _, _, t in self._owners], self._copies)
        for module, name, value in self._values:
            setattr(module, name, value)
        self.discard()

    def discard(self) -> None:
        """Forget the snapshot (its copy buffers are kept for the next one)."""
        self._owners, self._values, self.taken = [], [], False


def _copy_grouped(destinations: list[Tensor], sources: list[Tensor]) -> None:
    """destinations[i] := sources[i], one multi-tensor copy per (device, dtype)."""
    groups: dict[tuple[torch.device, torch.dtype], tuple[list[Tensor], list[Tensor]]] = {}
    for destination, source in zip(destinations, sources, strict=True):
        group = groups.setdefault((destination.device, destination.dtype), ([], []))
        group[0].append(destination)
        group[1].append(source)
    with torch.no_grad():
        for group_destinations, group_sources in groups.values():
            torch._foreach_copy_(group_destinations, group_sources)


def _same_layout(tensors: list[Tensor], copies: list[Tensor]) -> bool:
    return len(tensors) == len(copies) and all(
        t.shape == c.shape and t.dtype == c.dtype and t.device == c.device
        for t, c in zip(tensors, copies, strict=True)
    )


class FrozenStatistics:
    """Every statistics-collecting module of one model, frozen together on demand.

    ``with frozen():`` freezes them; leaving the block restores each module
    exactly, also when the block raises (``active`` is True inside it). ``snapshot``
    holds their statistics from before a step, for the optimizer to put back when it
    skips that step.
    """

    def __init__(self, model: nn.Module) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"FrozenStatistics needs an nn.Module, got {type(model).__name__}")
        self.model = model
        self.snapshot = StatisticsSnapshot()
        self.active = False

    def take_snapshot(self) -> None:
        """Copy the statistics of every member now, for ``snapshot.restore()``."""
        self.snapshot.take(module for module, _ in self.members())

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
            self.active = True
            yield
        finally:
            self.active = False
            for undo in reversed(undos):
                undo()


class SkippedStepStatistics:
    """The frozen models of one optimizer, and their statistics from before each step.

    A skipped step puts the statistics back; a step taken drops the copy. The first pass
    runs in training mode before the optimizer sees the gradient, so the copy is taken
    before it: when ``step`` starts (``around_step``), or by a forward pre-hook at each
    training forward outside a step, for loops that run the first pass themselves. The
    callers say whether non-finite checks are on (``checks``): without them no hook is
    installed and nothing is copied or allocated.
    """

    def __init__(self) -> None:
        self.frozen: list[FrozenStatistics] = []
        self._watching: dict[int, RemovableHandle] = {}
        self._in_step = False

    def add(self, model: nn.Module, checks: bool) -> None:
        """Freeze ``model``'s statistics in second passes and keep them for skipped steps."""
        if any(frozen.model is model for frozen in self.frozen):
            return
        self.frozen.append(FrozenStatistics(model))
        self.watch(checks)

    def watch(self, checks: bool) -> None:
        """With ``checks``: a pre-hook on each model that copies the statistics before forwards."""
        if not checks:
            return
        for frozen in self.frozen:
            if id(frozen) not in self._watching:
                hook = _StatisticsWatch(self, frozen)
                self._watching[id(frozen)] = frozen.model.register_forward_pre_hook(hook)

    def before_training_forward(self, frozen: FrozenStatistics, module: nn.Module) -> None:
        """A first pass outside ``step`` may follow: keep its statistics as they are now."""
        if module.training and not frozen.active and not self._in_step:
            frozen.take_snapshot()

    @contextmanager
    def around_step(self, take: bool, checks: Callable[[], bool]) -> Iterator[None]:
        """Around ``step``: copy the statistics first if ``take`` and no forward did yet.

        A step that raises keeps the statistics it reached and drops the copy.
        """
        if take:
            for frozen in self.frozen:
                if not frozen.snapshot.taken:
                    frozen.take_snapshot()
        self._in_step = True
        try:
            yield
        except BaseException:
            self.settle(skipped=False, checks=checks())
            raise
        finally:
            self._in_step = False

    def settle(self, skipped: bool, checks: bool) -> None:
        """The step is over: put the statistics back if it was skipped, else drop the copy."""
        for frozen in self.frozen:
            if skipped:
                frozen.snapshot.restore()
            else:
                frozen.snapshot.discard()
        self.watch(checks)


class _StatisticsWatch:
    """The forward pre-hook of a frozen model: lets its optimizer copy the statistics.

    It holds weak references, and a copy of the model (deepcopy, pickle) carries an inert
    one: copying a model never copies its optimizer or snapshots the original's statistics.
    """

    def __init__(self, statistics: SkippedStepStatistics, frozen: FrozenStatistics) -> None:
        self._refs: tuple[weakref.ref, weakref.ref] | None = (
            weakref.ref(statistics),
            weakref.ref(frozen),
        )

    def __getstate__(self) -> dict[str, Any]:
        return {"_refs": None}

    @torch.compiler.disable
    def __call__(self, module: nn.Module, args: Any) -> None:
        statistics, frozen = (None, None) if self._refs is None else (r() for r in self._refs)
        if statistics is not None and frozen is not None:
            statistics.before_training_forward(frozen, module)
