"""Sharded runs that save with ``arsam.core.sharded.save_sharded`` and resume with ``load_sharded``.

``spawn(world, phase, names, folder)`` starts ``world`` gloo CPU processes. Phase "save"
trains each method for ``STEPS`` steps uninterrupted and, separately, for ``STEPS // 2``
steps that it saves to ``folder/<name>``; phase "resume" loads those checkpoints into a
fresh model and optimizer in new processes and trains the remaining steps; phase "load"
only loads them (on another number of processes: resharding). Each rank
writes its records (weights and optimizer state gathered whole, SAM decisions) to
``folder/<phase><world>-rank<r>.pt``.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from arsam.core.sharded import load_sharded, save_sharded

from .fsdp2_runs import BATCH, STEPS, build, data, full, mlp

HALF = STEPS // 2


def whole(value: Any) -> Any:
    """``value`` with every DTensor gathered into a plain tensor and every tensor copied."""
    if isinstance(value, dict):
        return {k: whole(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(whole(v) for v in value)
    # full_tensor() on a one-rank mesh may return the shard itself: copy, training goes on
    return full(value).clone() if isinstance(value, Tensor) else value


def sharded_model() -> nn.Module:
    """The test MLP with every Linear and the whole model under FSDP2."""
    from torch.distributed.fsdp import fully_shard

    model = mlp()
    for layer in model:
        if isinstance(layer, nn.Linear):
            fully_shard(layer)
    return fully_shard(model)


def train(model: nn.Module, opt: Any, steps: range) -> list[int]:
    """Train ``steps`` of the global batches, each rank on its share; SAM decision per step."""
    rank, world = dist.get_rank(), dist.get_world_size()
    share, batches, decisions = BATCH // world, data(), []
    for step in steps:
        x, y = batches[step]
        x, y = x[rank * share : (rank + 1) * share], y[rank * share : (rank + 1) * share]

        def closure(x: Tensor = x, y: Tensor = y) -> Tensor:
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            return loss

        before = opt.counters["sam_steps"]
        opt.step(closure)
        decisions.append(opt.counters["sam_steps"] - before)
    return decisions


def record(model: nn.Module, opt: Any, decisions: list[int]) -> dict[str, Any]:
    """Whole weights, whole optimizer state and the decisions of one run."""
    weights = [whole(p.detach()) for p in model.parameters()]
    return {"weights": weights, "optimizer": whole(opt.state_dict()), "sam": decisions}


def phase_save(name: str, folder: str) -> dict[str, Any]:
    """The uninterrupted run, and the first half saved; both runs' records."""
    model = sharded_model()
    opt = build(name, model)
    uninterrupted = record(model, opt, train(model, opt, range(STEPS)))
    model = sharded_model()
    opt = build(name, model)
    decisions = train(model, opt, range(HALF))
    save_sharded(os.path.join(folder, name), model, opt)
    return {"uninterrupted": uninterrupted, "saved": record(model, opt, decisions)}


def phase_resume(name: str, folder: str) -> dict[str, Any]:
    """A fresh model and optimizer loaded from the checkpoint, then the second half trained."""
    model = sharded_model()
    opt = build(name, model)
    load_sharded(os.path.join(folder, name), model, opt)
    loaded = record(model, opt, [])
    return {"loaded": loaded, "resumed": record(model, opt, train(model, opt, range(HALF, STEPS)))}


def phase_load(name: str, folder: str) -> dict[str, Any]:
    """A fresh model and optimizer loaded from the checkpoint, not trained (resharding)."""
    model = sharded_model()
    opt = build(name, model)
    load_sharded(os.path.join(folder, name), model, opt)
    return {"loaded": record(model, opt, [])}


PHASES = {"save": phase_save, "resume": phase_resume, "load": phase_load}


def _worker(rank: int, world: int, port: int, phase: str, names: list[str], folder: str) -> None:
    """One rank: join the gloo group, run the phase for every method, save its records."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timedelta(seconds=60))
    try:
        records = {name: PHASES[phase](name, folder) for name in names}
        torch.save(records, os.path.join(folder, f"{phase}{world}-rank{rank}.pt"))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def spawn(world: int, phase: str, names: list[str], folder: str) -> list[dict[str, Any]]:
    """Run ``phase`` for ``names`` over ``world`` gloo processes; each rank's records."""
    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_worker, args=(world, port, phase, names, folder), nprocs=world)
    return [
        torch.load(os.path.join(folder, f"{phase}{world}-rank{r}.pt"), weights_only=True)
        for r in range(world)
    ]
