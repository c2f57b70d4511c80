"""FSDP2Strategy: MMEngine's FlexibleRunner with the model sharded by torch FSDP2.

``strategy=dict(type='FSDP2Strategy')`` (with ``runner_type='FlexibleRunner'``) shards the
model with ``torch.distributed.fsdp.fully_shard``: each top-level child that holds
parameters (or every submodule whose class is named in ``shard_modules``), then the root.
Parameters, gradients and every per-parameter optimizer buffer are DTensors; the two-pass
optimizers take their norms over all shards (core/sharded.py), so SAMOptimWrapper runs
unchanged.

A checkpoint ``epoch_N.pth`` is two things, written in this order:

1. ``epoch_N.pth.shards/``: the weights and the sharded optimizer buffers, written by
   every rank with torch.distributed.checkpoint to a ``.partial`` directory that is
   renamed once all ranks have finished (``arsam.core.sharded.write_shards``);
2. ``epoch_N.pth``: everything that is the same on every rank (progress, message hub,
   schedules, the optimizer's counters and settings, and where its shards are), written
   by rank 0 through MMEngine's storage backend, atomically (training_infra/checkpoints.py).

The ``.pth`` file is written last, so it names only complete shards: resuming, finding the
newest checkpoint and the resume checks read it as any other. Shard directories whose
``.pth`` file was removed (rotated out by ``max_keep_ckpts``, or a save killed before its
file) are deleted at the next save. Loading reshards: a checkpoint saved on N processes
loads on any number. A checkpoint without shards (one process, DDP, published weights) is
loaded as whole weights.
"""

from __future__ import annotations

import atexit
import datetime
import os
import shutil
import time
from collections.abc import Callable
from typing import Any

import mmengine
import torch
from mmengine._strategy import SingleDeviceStrategy
from mmengine.device import get_device
from mmengine.dist import init_dist, is_distributed, is_main_process
from mmengine.registry import STRATEGIES
from mmengine.utils import get_git_hash
from torch import nn

from ..sharded import (
    empty_shards,
    join_sharded,
    read_shards,
    sharded_index,
    split_sharded,
    write_shards,
)

SHARDS_KEY = "sharded"
SHARDS_SUFFIX = ".shards"


@STRATEGIES.register_module()
class FSDP2Strategy(SingleDeviceStrategy):
    """Distributed training with the model sharded by torch FSDP2 (``fully_shard``).

    Args:
        shard_modules: class names of the submodules to shard each on its own (e.g.
            ``['BasicBlock', 'Bottleneck']``); None shards each top-level child that holds
            parameters. The root is sharded last in both cases.
        reshard_after_forward: free the gathered weights after each forward (FSDP2's
            default; False keeps them until the backward, trading memory for all-gathers).
    """

    def __init__(
        self,
        *,
        shard_modules: list[str] | None = None,
        reshard_after_forward: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.shard_modules = None if shard_modules is None else list(shard_modules)
        self.reshard_after_forward = reshard_after_forward
        self._resuming = False

    def _setup_distributed(self, launcher: str = "pytorch", backend: str = "nccl", **kwargs):
        """Start the process group unless the launch already did (a CPU run starts gloo)."""
        if not is_distributed():
            init_dist(launcher, backend, **kwargs)

    def convert_model(self, model: nn.Module) -> nn.Module:
        """The model as it is (batch statistics stay per rank, as under DDP)."""
        return model

    def _wrap_model(self, model: nn.Module) -> nn.Module:
        """Move the model to this rank's device and shard it with ``fully_shard``."""
        from torch.distributed.fsdp import fully_shard

        model = model.to(get_device())
        atexit.register(_leave_process_group)
        for module in shard_targets(model, self.shard_modules):
            fully_shard(module, reshard_after_forward=self.reshard_after_forward)
        return fully_shard(model, reshard_after_forward=self.reshard_after_forward)

    # ------------------------------------------------------------ checkpoints
    def save_checkpoint(
        self,
        filename: str,
        *,
        save_optimizer: bool = True,
        save_param_scheduler: bool = True,
        extra_ckpt: dict | None = None,
        callback: Callable | None = None,
    ) -> None:
        """Write the shards (every rank), then ``filename`` (rank 0); see the module notes."""
        from mmengine.runner.checkpoint import save_checkpoint

        checkpoint: dict[str, Any] = {}
        sharded: dict = {}
        if save_optimizer and hasattr(self, "optim_wrapper"):
            checkpoint["optimizer"], sharded = split_sharded(self.optim_wrapper.state_dict())
        shards = f"{filename}{SHARDS_SUFFIX}"
        write_shards(shards, self.model.state_dict(), sharded)
        checkpoint[SHARDS_KEY] = {
            "directory": os.path.basename(shards),
            "optimizer": sharded_index(sharded),
            "world_size": self.world_size,
        }
        if save_param_scheduler and hasattr(self, "param_schedulers"):
            checkpoint["param_schedulers"] = self.scheduler_state_dict()
        extra = dict(extra_ckpt or {})
        extra["meta"] = dict(
            extra.get("meta") or {},
            seed=self.seed,
            time=time.strftime("%Y%m%d_%H%M%S", time.localtime()),
            mmengine=mmengine.__version__ + get_git_hash(),
        )
        checkpoint.update(extra)
        if callback is not None:  # on every rank: a hook may read sharded weights (collectives)
            callback(checkpoint)
        if is_main_process():
            save_checkpoint(checkpoint, filename)
            remove_orphan_shards(os.path.dirname(os.path.abspath(filename)))
        _barrier()

    def load_checkpoint(
        self,
        filename: str,
        *,
        map_location: str | Callable = "cpu",
        strict: bool = False,
        revise_keys: list = [(r"^module.", "")],  # noqa: B006  (MMEngine's signature)
        callback: Callable | None = None,
    ) -> dict:
        """Load the weights of ``filename`` (its shards, or whole weights) into the model."""
        from mmengine.runner.checkpoint import _load_checkpoint

        self.logger.info(f"Load checkpoint from {filename}")
        checkpoint = _load_checkpoint(filename, map_location="cpu")
        if callback is not None:
            callback(checkpoint)
        shards = checkpoint.pop(SHARDS_KEY, None)
        if shards is None:
            self._load_whole_weights(checkpoint.pop("state_dict"), strict, revise_keys)
            return checkpoint
        directory = os.path.join(os.path.dirname(os.path.abspath(filename)), shards["directory"])
        targets = {}
        if self._resuming and "optimizer" in checkpoint:
            params = [p for group in self.optim_wrapper.param_groups for p in group["params"]]
            targets = empty_shards(shards["optimizer"], params, directory)
        read_shards(directory, self.model, targets)
        if targets:
            checkpoint["optimizer"] = join_sharded(checkpoint["optimizer"], targets)
        return checkpoint

    def resume(self, filename: str, **kwargs: Any) -> dict:
        """MMEngine's resume, reading the optimizer's shards with the weights."""
        self._resuming = True
        try:
            return super().resume(filename, **kwargs)
        finally:
            self._resuming = False

    def _load_whole_weights(self, state_dict: dict, strict: bool, revise_keys: list) -> None:
        """Distribute a whole (unsharded) state dict over the sharded model."""
        import re

        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            set_model_state_dict,
        )

        for pattern, replacement in revise_keys:
            state_dict = {re.sub(pattern, replacement, k): v for k, v in state_dict.items()}
        options = StateDictOptions(full_state_dict=True, strict=strict)
        set_model_state_dict(self.model, state_dict, options=options)


def shard_targets(model: nn.Module, class_names: list[str] | None) -> list[nn.Module]:
    """The submodules to shard on their own, innermost first (the root is sharded after)."""
    if class_names is None:
        return [m for m in model.children() if any(True for _ in m.parameters())]
    wanted = set(class_names)
    found = [m for m in model.modules() if m is not model and type(m).__name__ in wanted]
    if not found:
        raise ValueError(
            f"strategy.shard_modules={sorted(wanted)} names no submodule of "
            f"{type(model).__name__}: give class names that the model holds (e.g. its blocks' "
            "classes), or leave shard_modules out to shard each top-level child."
        )
    return list(reversed(found))


def remove_orphan_shards(directory: str) -> list[str]:
    """Delete the shard directories in ``directory`` whose checkpoint file is gone."""
    removed = []
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        owner = path.removesuffix(SHARDS_SUFFIX)
        if name.endswith(SHARDS_SUFFIX) and os.path.isdir(path) and not os.path.isfile(owner):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _barrier() -> None:
    """Wait for every rank."""
    if torch.distributed.is_initialized():
        torch.distributed.barrier()


def _leave_process_group() -> None:
    """Close the process groups before the interpreter exits.

    FSDP2's device mesh holds its own gloo group; left to the interpreter's teardown, it
    could abort the process whose peer had already exited. The ranks first wait for each
    other (at most 60 s: a peer that died is the launcher's to report), so none closes a
    connection another is still using.
    """
    if not torch.distributed.is_initialized():
        return
    try:
        if torch.distributed.get_backend() == "gloo":
            torch.distributed.monitored_barrier(timeout=datetime.timedelta(seconds=60))
        else:
            torch.distributed.barrier()
    except RuntimeError:
        pass  # a peer is gone: close this rank's side all the same
    torch.distributed.destroy_process_group()
