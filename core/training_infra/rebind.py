"""Keep the optimizer and DDP on the model's parameters when loading a checkpoint replaces them.

MMEngine builds the optimizer (and the DDP wrapper) before it loads ``load_from`` or the
resumed checkpoint. Loading normally copies values into the existing parameters, but some
modules create new ones: Brevitas' quantizer proxies rebuild their scale parameters in
``_load_from_state_dict``. The optimizer then kept updating the old, detached tensors and
the model's quantizer scales stopped learning after every resume. This hook notes every
model parameter by name before the checkpoint is loaded, and afterwards points the
optimizer, its base optimizer (they share parameter groups) and their per-parameter state
at the parameters the model now has.

DistributedDataParallel registered its gradient all-reduce on the parameters it was built
around: after such a load it would wait for gradients of the old tensors and never average
those of the new ones, so the ranks' scales would drift apart. When the model's parameters
changed, the hook wraps the module in a new DDP wrapper built from the run's
``model_wrapper_cfg`` exactly as the Runner built the first one, and gives it to the
Runner and the optim wrapper (and compiles its ``train_step`` again under ``compile=``).
"""

from __future__ import annotations

import copy
import os
import weakref
from typing import Any

import torch
from mmengine.hooks import Hook
from mmengine.model import MMDistributedDataParallel, is_model_wrapper
from mmengine.registry import HOOKS, MODEL_WRAPPERS
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel


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
    """Re-points the optimizer and the DDP wrapper at parameters that a checkpoint load replaced."""

    priority = "HIGHEST"

    def __init__(self) -> None:
        self._originals: dict[str, weakref.ref] = {}

    def before_run(self, runner: Any) -> None:
        """Remember every model parameter by name (the checkpoint is not loaded yet)."""
        self._originals = {n: weakref.ref(p) for n, p in _model(runner).named_parameters()}

    def before_train(self, runner: Any) -> None:
        """After loading: replace parameters the model no longer has by its current ones."""
        current = dict(_model(runner).named_parameters())
        replaced = [name for name, p in current.items() if self._original(name) is not p]
        replacements = {}
        for name in replaced:
            old = self._original(name)
            if old is not None:
                replacements[id(old)] = (old, current[name])
        for optimizer in _optimizers(runner):
            rebind_optimizer(optimizer, replacements)
        if replaced and isinstance(runner.model, DistributedDataParallel):
            rebuild_ddp_wrapper(runner)
            runner.logger.info(
                f"Loading the checkpoint replaced {len(replaced)} parameters (e.g. "
                f"{replaced[0]}): the DDP wrapper was rebuilt around them."
            )

    def _original(self, name: str) -> torch.nn.Parameter | None:
        ref = self._originals.get(name)
        return None if ref is None else ref()


def rebind_optimizer(
    optimizer: torch.optim.Optimizer, replacements: dict[int, tuple[Tensor, Tensor]]
) -> int:
    """Swap each stale parameter (``replacements``: id(old) -> (old, new)) in the groups and state.

    Returns how many group entries moved; groups shared with an optimizer rebound before
    (a two-pass optimizer and its base) have none left, but their state still moves.
    """
    moved = 0
    for group in optimizer.param_groups:
        for i, param in enumerate(group["params"]):
            if id(param) in replacements:
                group["params"][i] = replacements[id(param)][1]
                moved += 1
    for key in [k for k in optimizer.state if id(k) in replacements]:
        optimizer.state[replacements[id(key)][1]] = optimizer.state.pop(key)
    return moved


def rebuild_ddp_wrapper(runner: Any) -> torch.nn.Module:
    """Wrap ``runner.model``'s module anew, as the Runner did; hand the new wrapper around.

    The module already went through the Runner's device move and SyncBatchNorm
    conversion, so only the wrapper is built again (a collective: every rank does it).
    """
    old = runner.model
    config = copy.deepcopy(runner.cfg.get("model_wrapper_cfg"))
    local_rank = [int(os.environ.get("LOCAL_RANK", 0))]
    if config is None:
        new = MMDistributedDataParallel(
            module=old.module,
            device_ids=local_rank,
            broadcast_buffers=False,
            find_unused_parameters=runner.cfg.get("find_unused_parameters", False),
        )
    else:
        config.setdefault("type", "MMDistributedDataParallel")
        default_args: dict[str, Any] = {"module": old.module}
        if issubclass(MODEL_WRAPPERS.get(config["type"]), DistributedDataParallel):
            default_args["device_ids"] = local_rank
        new = MODEL_WRAPPERS.build(config, default_args=default_args)
    runner.model = new
    bind_model = getattr(runner.optim_wrapper, "bind_model", None)
    if bind_model is not None:
        bind_model(new)
    if "train_step" in vars(old):  # compiled by the Runner (compile=...): compile the new one
        runner._maybe_compile("train_step")
    return new
