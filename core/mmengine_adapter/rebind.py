"""Keep the optimizer on the model's parameters when loading a checkpoint replaces them.

MMEngine builds the optimizer before it loads ``load_from`` or the resumed checkpoint.
Loading normally copies values into the existing parameters, but some modules create new
ones: Brevitas' quantizer proxies rebuild their scale parameters in
``_load_from_state_dict``. The optimizer then kept updating the old, detached tensors and
the model's quantizer scales stopped learning after every resume. This hook notes which
model parameter each optimizer entry is before the checkpoint is loaded, and afterwards
points the optimizer (and its per-parameter state) at the parameters the model now has.
"""

from __future__ import annotations

from typing import Any

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


def _optimizers(runner: Any) -> list[torch.optim.Optimizer]:
    wrapper = getattr(runner, "optim_wrapper", None)
    optimizer = getattr(wrapper, "optimizer", None)
    if not isinstance(optimizer, torch.optim.Optimizer):
        return []
    base = getattr(optimizer, "base_optimizer", None)
    return [optimizer] + ([base] if isinstance(base, torch.optim.Optimizer) else [])


def _model(runner: Any) -> torch.nn.Module:
    return runner.model.module if is_model_wrapper(runner.model) else runner.model


@HOOKS.register_module()
class ParameterRebindHook(Hook):
    """Re-points the optimizer at parameters that a checkpoint load replaced."""

    priority = "HIGHEST"

    def __init__(self) -> None:
        self._names: dict[int, str] = {}

    def before_run(self, runner: Any) -> None:
        """Remember the name of every optimized parameter (the checkpoint is not loaded yet)."""
        self._names = {id(p): name for name, p in _model(runner).named_parameters()}

    def before_train(self, runner: Any) -> None:
        """After loading: replace parameters the model no longer has by its current ones."""
        current = dict(_model(runner).named_parameters())
        for optimizer in _optimizers(runner):
            rebind_optimizer(optimizer, self._names, current)


def rebind_optimizer(
    optimizer: torch.optim.Optimizer, names: dict[int, str], current: dict[str, torch.nn.Parameter]
) -> int:
    """Swap stale parameters in ``optimizer`` for ``current[name]``; returns how many moved."""
    moved = 0
    for group in optimizer.param_groups:
        for i, old in enumerate(group["params"]):
            new = current.get(names.get(id(old), ""))
            if new is None or new is old:
                continue
            group["params"][i] = new
            if old in optimizer.state:
                optimizer.state[new] = optimizer.state.pop(old)
            moved += 1
    return moved
