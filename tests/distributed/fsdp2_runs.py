"""Every registered method trained on a small MLP, sharded with FSDP2 or in one process.

``spawn_sharded(world_size, names, folder)`` starts ``world_size`` gloo CPU processes that
run ``runs(names)`` on an FSDP2 (``fully_shard``) model, each rank on its slice of the
global batch, and save what they saw to ``folder/rank{r}.pt``; ``runs(names)`` in the
calling process is the one-process reference on the whole batch. One spawn runs every
method in sequence: starting processes costs more than the runs.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from arsam.core import TWO_PASS_METHODS, TwoPassOptimizer

STEPS = 8
BATCH = 32
NONFINITE_STEP = 3  # the run "skip" makes this step's first pass non-finite
HOST_READS = ("item", "tolist", "__bool__", "__float__", "__int__", "__index__")
# The runs: how each steps the optimizer (closure, two calls, GradScaler, skipped step).
KINDS = ("closure", "two_call", "scaler", "skip")


def mlp() -> nn.Module:
    """A small MLP without batch statistics (they would be per rank), the same on every rank."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3)
    )


def data() -> list[tuple[Tensor, Tensor]]:
    """``STEPS`` global batches of ``BATCH`` samples."""
    generator = torch.Generator().manual_seed(1)
    return [
        (
            torch.randn(BATCH, 6, generator=generator),
            torch.randint(0, 3, (BATCH,), generator=generator),
        )
        for _ in range(STEPS)
    ]


def build(name: str, model: nn.Module, **options: Any) -> TwoPassOptimizer:
    """The method ``name`` with the contract suite's options, around SGD with momentum."""
    spec = TWO_PASS_METHODS[name]
    arguments = {**spec.contract_options, **options}
    return spec.build(
        model.parameters(),
        torch.optim.SGD,
        total_steps=STEPS,
        seed=0,
        lr=0.05,
        momentum=0.9,
        **arguments,
    )


class ReadCounter:
    """Counts the tensor values read on the host while ``active`` (item, bool(), float()...)."""

    def __init__(self) -> None:
        self.count = 0
        self.active = False
        self._originals = {m: getattr(Tensor, m) for m in HOST_READS}

    def __enter__(self) -> ReadCounter:
        for method, original in self._originals.items():

            def spy(
                tensor: Tensor, *args: Any, _original: Callable = original, **kwargs: Any
            ) -> Any:
                self.count += int(self.active)
                return _original(tensor, *args, **kwargs)

            setattr(Tensor, method, spy)
        return self

    def __exit__(self, *exc: object) -> None:
        for method, original in self._originals.items():
            setattr(Tensor, method, original)


def train(name: str, kind: str, sharded: bool) -> dict[str, Any]:
    """One run of ``name``; its final weights, per-step decisions and the optimizer's host reads."""
    rank, world = (dist.get_rank(), dist.get_world_size()) if sharded else (0, 1)
    model = mlp()
    if sharded:
        from torch.distributed.fsdp import fully_shard

        for layer in model:
            if isinstance(layer, nn.Linear):
                fully_shard(layer)
        fully_shard(model)
    options = {"skip_nonfinite": True} if kind == "skip" else {}
    opt = build(name, model, **options)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10) if kind == "scaler" else None
    share = BATCH // world
    record: dict[str, Any] = {"sam": [], "skipped": [], "reads": [], "declared": []}
    with ReadCounter() as reads:

        def loss_of(x: Tensor, y: Tensor, factor: float) -> Tensor:
            reads.active = False
            loss = nn.functional.cross_entropy(model(x), y) * factor
            (scaler.scale(loss) if scaler is not None else loss).backward()
            reads.active = True
            return loss

        for step, (x, y) in enumerate(data()):
            x, y = x[rank * share : (rank + 1) * share], y[rank * share : (rank + 1) * share]
            factor = [float("inf"), 1.0] if kind == "skip" and step == NONFINITE_STEP else [1.0]
            before = dict(opt.counters)
            record["declared"].append(opt.host_reads_ahead())
            reads.count, reads.active = 0, True

            def closure(x: Tensor = x, y: Tensor = y, factor: list[float] = factor) -> Tensor:
                opt.zero_grad()
                return loss_of(x, y, factor.pop(0) if len(factor) > 1 else factor[0])

            if kind == "two_call":
                opt.before_forward()
                opt.zero_grad()
                loss_of(x, y, factor[0])
                if opt.first_step():
                    loss_of(x, y, factor[0])
                    opt.second_step()
            elif scaler is not None:
                opt.step(closure, grad_scaler=scaler)
                reads.active = False
                scaler.update()
            else:
                opt.step(closure)
            reads.active = False
            record["reads"].append(reads.count)
            record["sam"].append(opt.counters["sam_steps"] - before["sam_steps"])
            record["skipped"].append(opt.counters["skipped_steps"] - before["skipped_steps"])
    record["weights"] = [full(p.detach()) for p in model.parameters()]
    record["buffers_sharded_like_parameters"] = (
        buffers_sharded_like_parameters(opt) if sharded else True
    )
    return record


def full(tensor: Tensor) -> Tensor:
    """The whole tensor: gathered from every rank for a DTensor."""
    return tensor.full_tensor() if hasattr(tensor, "full_tensor") else tensor.clone()


def buffers_sharded_like_parameters(opt: TwoPassOptimizer) -> bool:
    """Whether each parameter-shaped state tensor (PSF, momentum) is sharded like its parameter."""
    from torch.distributed.tensor import DTensor

    for state in (opt.state, opt.base_optimizer.state):
        for p, entries in state.items():
            for value in entries.values():
                if isinstance(value, Tensor) and value.shape == p.shape:
                    if not isinstance(value, DTensor) or value.placements != p.placements:
                        return False
                    if value.to_local().shape != p.to_local().shape:
                        return False
    return True


def runs(names: list[str], kinds: tuple[str, ...] = KINDS, sharded: bool = False) -> dict[str, Any]:
    """Every (method, kind) run, keyed "method/kind"."""
    return {f"{name}/{kind}": train(name, kind, sharded) for name in names for kind in kinds}


def _worker(
    rank: int, world: int, port: int, names: list[str], kinds: tuple[str, ...], folder: str
) -> None:
    """One rank: join the gloo group, run everything sharded, save the records."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timedelta(seconds=60))
    try:
        records = runs(names, kinds, sharded=True)
        torch.save(records, os.path.join(folder, f"rank{rank}.pt"))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def spawn_sharded(
    world: int, names: list[str], kinds: tuple[str, ...], folder: str
) -> list[dict[str, Any]]:
    """Run ``runs(names, kinds)`` sharded over ``world`` gloo processes; each rank's records."""
    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_worker, args=(world, port, names, kinds, folder), nprocs=world)
    return [
        torch.load(os.path.join(folder, f"rank{r}.pt"), weights_only=True) for r in range(world)
    ]
