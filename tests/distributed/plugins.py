"""Test plugins for launched runs: a model whose loss turns NaN on one rank, a recording hook."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS, MODELS

from arsam.core.sharded import is_sharded
from tests.adapter.toy import AdapterToyModel


def whole(tensor: torch.Tensor) -> torch.Tensor:
    """A sharded (FSDP2) tensor gathered from every rank; a plain tensor as it is."""
    return tensor.full_tensor() if is_sharded(tensor) else tensor


def _whole_state(state):
    """An optimizer state with every sharded tensor gathered and every tensor copied."""
    if isinstance(state, dict):
        return {k: _whole_state(v) for k, v in state.items()}
    if isinstance(state, list | tuple):
        return type(state)(_whole_state(v) for v in state)
    return whole(state).clone() if isinstance(state, torch.Tensor) else state


@MODELS.register_module(force=True)
class RankNaNToyModel(AdapterToyModel):
    """The toy model; its loss turns NaN after ``nan_after`` forwards, on rank ``nan_rank`` only."""

    def __init__(self, nan_rank: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        if int(os.environ.get("RANK", "0")) != nan_rank:
            self.nan_after = None


@HOOKS.register_module(force=True)
class RecordRunHook(Hook):
    """Saves each iteration's SAM-step count and the final weights to work_dir/rank<r>.pt."""

    def __init__(self) -> None:
        self.sam_steps: list[int] = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        """Remember the optimizer's SAM-step count."""
        self.sam_steps.append(runner.optim_wrapper.optimizer.stats["sam_steps"])

    def after_train(self, runner) -> None:
        """Write what this rank did."""
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        record = {
            "sam_steps": self.sam_steps,
            "stats": runner.optim_wrapper.optimizer.stats,
            "weights": [whole(p.detach()).clone() for p in model.parameters()],
            "optimizer": _whole_state(runner.optim_wrapper.optimizer.state_dict()),
            "wrapper": type(runner.model).__name__,
            "world_size": dist.get_world_size() if dist.is_initialized() else 1,
            "backend": dist.get_backend() if dist.is_initialized() else None,
        }
        torch.save(record, os.path.join(runner.work_dir, f"rank{runner.rank}.pt"))
