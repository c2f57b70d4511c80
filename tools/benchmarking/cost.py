"""Cost of one optimizer step: the base run (SGD), SAM, ARSAM and the peers interleaved.

Every optimizer trains its own copy of the same initial model on the same
sequence of random batches. After ``warmup`` untimed steps, each step runs the
optimizers in turn (A B C A B C ...), so slow drifts of the machine (clock,
other load) hit all of them alike. Per optimizer the result holds the step
times, the forward-backward passes, the realised SAM fraction f, the overhead
t_mean / ((1 + f) t_base_mean) (method.md, "Cost model") and the bytes of
optimizer state beyond the parameters.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from mmengine.registry import MODELS
from torch import Tensor, nn
from torch.nn import functional as F

import arsam.tasks.classification  # noqa: F401  (registers the backbones)
from arsam.core.registry import build_method
from arsam.tasks.evidence.compared import BASE, check_names, is_two_pass, suite_optimizers
from arsam.tasks.evidence.progress import Progress

from .device import (
    environment,
    host_syncs_forbidden,
    host_syncs_seen,
    is_cuda,
    peak_since,
    start_peak_tracking,
    synchronize,
)
from .memory import optimizer_state_bytes, parameter_bytes


@dataclass
class BenchmarkSettings:
    """What the benchmark runs; the defaults are CIFAR ResNet-18 at batch 64."""

    model: str = "CifarResNet"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    input_shape: tuple[int, ...] = (3, 32, 32)
    num_classes: int = 10
    batch_size: int = 64
    steps: int = 100
    warmup: int = 10
    optimizers: list[str] = field(default_factory=lambda: list(suite_optimizers()))
    device: str = "cpu"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 1e-3
    rho: float = 0.05
    arsam_window: int = 10
    arsam_warmup: int = 0
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    num_batches: int = 8
    seed: int = 0
    sync_check_steps: int = 0
    precision: str = "fp32"
    channels_last: bool = False


# fp32; bf16 under autocast; fp16 under autocast with a GradScaler (one per optimizer).
PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass
class Contestant:
    """One optimizer with its own model copy and its measurements."""

    name: str
    model: nn.Module
    optimizer: torch.optim.Optimizer
    config: dict[str, Any] = field(default_factory=dict)
    calls: int = 0
    times: list[float] = field(default_factory=list)
    peak_bytes: int | None = None
    precision: str = "fp32"
    scaler: Any = None


def var_blocks_for(window: int, preferred: int = 5) -> int:
    """The largest block count <= ``preferred`` that splits ``window`` into blocks of >= 2."""
    for blocks in range(min(preferred, window // 2), 0, -1):
        if window % blocks == 0:
            return blocks
    return 1


def build_model(settings: BenchmarkSettings) -> nn.Module:
    """The registered backbone named in ``settings``, seeded, in train mode."""
    torch.manual_seed(settings.seed)
    model = MODELS.build({"type": settings.model, **settings.model_kwargs})
    return model.train()


def make_batches(settings: BenchmarkSettings, device: torch.device) -> list[tuple[Tensor, Tensor]]:
    """``num_batches`` random (inputs, labels) batches on ``device``."""
    generator = torch.Generator().manual_seed(settings.seed + 1)
    batches = []
    for _ in range(max(1, settings.num_batches)):
        x = torch.randn(settings.batch_size, *settings.input_shape, generator=generator)
        y = torch.randint(0, settings.num_classes, (settings.batch_size,), generator=generator)
        x = x.to(device)
        if settings.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        batches.append((x, y.to(device)))
    return batches


def contestant_options(name: str, settings: BenchmarkSettings) -> dict[str, Any]:
    """The keyword arguments of method ``name`` in this benchmark, beyond rho and the base's."""
    options: dict[str, Any] = {}
    if name == "ARSAMPaper":  # the paper schedule's warm-up and window ("ARSAM" picks its own)
        options = {
            "warmup_steps": settings.arsam_warmup,
            "window": settings.arsam_window,
            "var_blocks": var_blocks_for(settings.arsam_window),
        }
    if name == "ESAM":  # the benchmark's closure returns one scalar loss: no data selection
        options = {"gamma": 1.0}
    options.update(settings.options.get(name, {}))
    return options


def build_contestant_optimizer(
    name: str, settings: BenchmarkSettings, params: Any, total_steps: int
) -> tuple[torch.optim.Optimizer, dict[str, Any]]:
    """The optimizer of ``name`` around SGD for ``params``, and its settings for the report."""
    base = {"lr": settings.lr, "momentum": settings.momentum, "weight_decay": settings.weight_decay}
    if name == BASE:
        base.update(settings.options.get(name, {}))
        return torch.optim.SGD(params, **base), {"type": "SGD", **base}
    options = {"rho": settings.rho, **contestant_options(name, settings)}
    optimizer = build_method(
        name,
        params,
        torch.optim.SGD,
        total_steps=total_steps,
        seed=settings.seed,
        **options,
        **base,
    )
    config = {"type": name, "base_optimizer": {"type": "SGD", **base}, **options}
    return optimizer, config


def make_contestants(
    settings: BenchmarkSettings, model: nn.Module, device: torch.device
) -> list[Contestant]:
    """Each optimizer with its own copy of ``model`` on ``device``."""
    if settings.precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {settings.precision!r}")
    total_steps = settings.warmup + settings.steps + settings.sync_check_steps
    contestants = []
    for name in check_names(settings.optimizers):
        copy_of_model = copy.deepcopy(model).to(device)
        if settings.channels_last:
            copy_of_model = copy_of_model.to(memory_format=torch.channels_last)
        optimizer, config = build_contestant_optimizer(
            name, settings, copy_of_model.parameters(), total_steps
        )
        if is_two_pass(name):
            optimizer.freeze_statistics_of(copy_of_model)
        scaler = torch.amp.GradScaler(device.type) if settings.precision == "fp16" else None
        contestants.append(
            Contestant(
                name, copy_of_model, optimizer, config, precision=settings.precision, scaler=scaler
            )
        )
    return contestants


def autocast_for(precision: str, device: torch.device) -> Any:
    """The autocast context of ``precision`` on ``device`` (none for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


def run_step(contestant: Contestant, batch: tuple[Tensor, Tensor]) -> None:
    """One training step of ``contestant`` on ``batch``."""
    x, y = batch
    model, optimizer, scaler = contestant.model, contestant.optimizer, contestant.scaler

    def closure() -> Tensor:
        contestant.calls += 1
        optimizer.zero_grad(set_to_none=True)
        with autocast_for(contestant.precision, x.device):
            loss = F.cross_entropy(model(x), y)
        (loss if scaler is None else scaler.scale(loss)).backward()
        return loss

    if is_two_pass(contestant.name):
        if scaler is None:
            optimizer.step(closure)
        else:
            optimizer.step(closure, grad_scaler=scaler)
    else:
        closure()
        if scaler is None:
            optimizer.step()
        else:
            scaler.step(optimizer)
    if scaler is not None:
        scaler.update()


def timed_step(contestant: Contestant, batch: tuple[Tensor, Tensor], device: torch.device) -> None:
    """``run_step``, timed (and its peak memory tracked on CUDA)."""
    synchronize(device)
    baseline = start_peak_tracking(device)
    start = time.perf_counter()
    run_step(contestant, batch)
    synchronize(device)
    contestant.times.append(time.perf_counter() - start)
    peak = peak_since(device, baseline)
    if peak is not None:
        contestant.peak_bytes = max(peak, contestant.peak_bytes or 0)


def declared_reads(optimizer: torch.optim.Optimizer) -> int | None:
    """The host reads the coming step declares (``host_reads_ahead``); None without one."""
    declaration = getattr(optimizer, "host_reads_ahead", None)
    return int(declaration()) if callable(declaration) else None


def sync_verdict(device: Any, checked: int, failure: str | None) -> str:
    """n/a off CUDA, else whether the checked steps ran without a host synchronisation."""
    if not is_cuda(device):
        return "n/a (CPU)"
    return f"no ({failure})" if failure else f"yes ({checked} steps checked)"


def check_sync_free(
    contestant: Contestant, batches: Sequence[tuple[Tensor, Tensor]], steps: int, device: Any
) -> dict[str, Any]:
    """Run ``steps`` more steps, host syncs made errors except in steps that declare reads.

    Steps declaring host reads (ARSAM's window boundaries) run under sync debug mode 'warn'
    and count the syncs seen. Returns the counts, whether every step had a declaration and
    the verdict.
    """
    counts: dict[str, Any] = {"checked": 0, "exempt": 0, "declared_reads": 0, "observed_syncs": 0}
    declared, failure = True, None
    for index in range(steps):
        batch = batches[index % len(batches)]
        reads = declared_reads(contestant.optimizer)
        declared = declared and reads is not None
        if reads:
            with host_syncs_seen(device) as seen:
                run_step(contestant, batch)
            counts["exempt"] += 1
            counts["declared_reads"] += reads
            counts["observed_syncs"] += len(seen)
            continue
        try:
            with host_syncs_forbidden(device):
                run_step(contestant, batch)
        except RuntimeError as error:
            failure = f"step {index}: {(str(error).strip() or 'error').splitlines()[0]}"
            break
        counts["checked"] += 1
    synchronize(device)
    verdict = sync_verdict(device, counts["checked"], failure)
    return {
        **counts,
        "declaration": "declared" if declared else "no declaration",
        "verdict": verdict,
    }


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def _ratio(value: float | None, reference: float | None) -> float | None:
    if value is None or not reference:
        return None
    return value / reference


def summarize(contestants: Sequence[Contestant], steps: int) -> list[dict[str, Any]]:
    """One result row per optimizer; times in milliseconds, memory in bytes."""
    means = {c.name: _mean(c.times) for c in contestants}
    base, sam = means.get(BASE), means.get("SAM")
    rows = []
    for c in contestants:
        passes = c.calls / steps if steps else float("nan")
        f = passes - 1.0
        mean = means[c.name]
        memory = optimizer_state_bytes(c.optimizer)
        params = parameter_bytes(c.model.parameters())
        rows.append(
            {
                "optimizer": c.name,
                "steps": steps,
                "median_ms": statistics.median(c.times) * 1e3 if c.times else None,
                "mean_ms": mean * 1e3,
                "std_ms": statistics.stdev(c.times) * 1e3 if len(c.times) > 1 else None,
                "passes_per_step": passes,
                "sam_fraction": f,
                "time_vs_base": _ratio(mean, base),
                "time_vs_sam": _ratio(mean, sam),
                "overhead": _ratio(mean, (1.0 + f) * base) if base else None,
                "state_bytes": memory["total"],
                "state_breakdown": memory,
                "param_bytes": params,
                "state_vs_params": memory["total"] / params if params else None,
                "peak_step_bytes": c.peak_bytes,
                "sync_free": "not checked",
                "stats": dict(getattr(c.optimizer, "stats", {})),
                "config": c.config,
                "times_ms": [t * 1e3 for t in c.times],
            }
        )
    return rows


def run_benchmark(
    settings: BenchmarkSettings, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Run the interleaved benchmark; returns settings, environment and one row per optimizer.

    ``progress`` receives a line now and then: steps done of all, elapsed time and ETA (between
    steps, outside the timed part).
    """
    device = torch.device(settings.device)
    if is_cuda(device) and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but torch sees no CUDA device")
    model = build_model(settings)
    contestants = make_contestants(settings, model, device)
    batches = make_batches(settings, device)
    steps = settings.warmup + settings.steps
    check_steps = settings.sync_check_steps if is_cuda(device) else 0
    report = Progress([1.0] * len(contestants) * (steps + check_steps))

    def tell(what: str, force: bool = False) -> None:
        status = report.advance(len(contestants), runs=len(contestants))
        if progress is not None and (report.due(interval_s=30.0) or force):
            progress(f"{what}: {status}")

    if progress is not None:
        progress(
            f"{', '.join(c.name for c in contestants)} on {settings.model} at batch "
            f"{settings.batch_size} ({device}), {settings.warmup} warm-up + {settings.steps} "
            "timed steps, interleaved step by step"
        )
    names = f"{len(contestants)} optimizers interleaved"
    for step in range(settings.warmup):
        for contestant in contestants:
            run_step(contestant, batches[step % len(batches)])
        tell(f"warm-up step {step + 1}/{steps} ({names})")
    synchronize(device)
    for contestant in contestants:
        contestant.calls = 0
    gc.collect()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for step in range(settings.warmup, steps):
            for contestant in contestants:
                timed_step(contestant, batches[step % len(batches)], device)
            tell(f"timed step {step + 1}/{steps} ({names})", force=step + 1 == steps)
    finally:
        if gc_was_enabled:
            gc.enable()
    rows = summarize(contestants, settings.steps)
    if settings.sync_check_steps > 0:
        for row, contestant in zip(rows, contestants):
            row["sync_free"] = check_sync_free(contestant, batches, check_steps, device)["verdict"]
            if check_steps:
                tell(f"sync check ({contestant.name})", force=True)
    return {
        "settings": asdict(settings),
        "environment": environment(device),
        "parameters": sum(p.numel() for p in model.parameters()),
        "rows": rows,
    }


# --------------------------------------------------- sharded mode: collectives per step
# The torch.distributed calls counted; FSDP2 issues all_gather_single / reduce_scatter_single.
COLLECTIVES = (
    "all_reduce",
    "broadcast",
    "all_gather",
    "all_gather_into_tensor",
    "all_gather_single",
    "reduce_scatter",
    "reduce_scatter_tensor",
    "reduce_scatter_single",
)


@contextlib.contextmanager
def counting_collectives(tally: dict[str, list[int]], owner: list[str]) -> Any:
    """Count each torch.distributed collective as ``tally[owner[0]] += [calls, bytes]``.

    A call's bytes are those of its largest tensor (the gathered output of an all-gather,
    the input of a reduce-scatter, the tensor of an all-reduce or broadcast).
    """
    import torch.distributed as dist

    originals = {name: getattr(dist, name) for name in COLLECTIVES if hasattr(dist, name)}

    def counted(original: Callable) -> Callable:
        def call(*args: Any, **kwargs: Any) -> Any:
            tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, Tensor)]
            for a in (*args, *kwargs.values()):
                if isinstance(a, list | tuple):
                    tensors += [t for t in a if isinstance(t, Tensor)]
            size = max((t.numel() * t.element_size() for t in tensors), default=0)
            entry = tally.setdefault(owner[0], [0, 0])
            entry[0] += 1
            entry[1] += size
            return original(*args, **kwargs)

        return call

    for name, original in originals.items():
        setattr(dist, name, counted(original))
    try:
        yield tally
    finally:
        for name, original in originals.items():
            setattr(dist, name, original)


def shard_model(model: nn.Module) -> nn.Module:
    """``model`` under FSDP2: each top-level child with parameters, then the whole model."""
    from torch.distributed.fsdp import fully_shard

    for child in model.children():
        if any(True for _ in child.parameters()):
            fully_shard(child)
    return fully_shard(model)


def sharded_collectives(settings: BenchmarkSettings) -> list[dict[str, Any]]:
    """Per optimizer: FSDP2's collectives per step (both passes) and the optimizer's own.

    Runs in a process of an initialised (gloo) group, on the CPU. The closure's forward and
    backward are FSDP's (all-gathers, reduce-scatters); what the step issues outside them
    (norm all-reduces, ARSAM's quota broadcast) is the optimizer's.
    """
    batches = make_batches(settings, torch.device("cpu"))
    return [_collectives_of(name, settings, batches) for name in check_names(settings.optimizers)]


def _collectives_of(
    name: str, settings: BenchmarkSettings, batches: list[tuple[Tensor, Tensor]]
) -> dict[str, Any]:
    """One optimizer's row of ``sharded_collectives``."""
    model = shard_model(build_model(settings))
    optimizer, _ = build_contestant_optimizer(
        name, settings, model.parameters(), settings.warmup + settings.steps
    )
    tally: dict[str, list[int]] = {}
    owner, batch = ["warm-up"], [batches[0]]

    def closure() -> Tensor:
        measuring = owner[0] != "warm-up"
        owner[0] = "fsdp" if measuring else owner[0]
        optimizer.zero_grad(set_to_none=True)
        x, y = batch[0]
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        owner[0] = "optimizer" if measuring else owner[0]
        return loss

    with counting_collectives(tally, owner):
        for step in range(settings.warmup + settings.steps):
            batch[0] = batches[step % len(batches)]
            owner[0] = "warm-up" if step < settings.warmup else "optimizer"
            if is_two_pass(name):
                optimizer.step(closure)
            else:
                closure()
                optimizer.step()
    steps = max(1, settings.steps)
    fsdp, own = tally.get("fsdp", [0, 0]), tally.get("optimizer", [0, 0])
    return {
        "optimizer": name,
        "fsdp_calls": fsdp[0] / steps,
        "fsdp_mib": fsdp[1] / steps / 2**20,
        "optimizer_calls": own[0] / steps,
        "optimizer_bytes": own[1] / steps,
    }


def _sharded_worker(
    rank: int, world: int, port: int, settings: BenchmarkSettings, out: str
) -> None:
    """One gloo rank of ``run_sharded_collectives``; rank 0 saves the rows to ``out``."""
    import os
    from datetime import timedelta

    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timedelta(seconds=120))
    try:
        rows = sharded_collectives(settings)
        if rank == 0:
            torch.save(rows, out)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def run_sharded_collectives(settings: BenchmarkSettings, world: int) -> dict[str, Any]:
    """Count the collectives per step on ``world`` gloo CPU processes under FSDP2."""
    import os
    import socket
    import tempfile

    import torch.multiprocessing as mp

    if world < 2:
        raise ValueError(f"--sharded needs at least 2 processes to shard over, got {world}")
    check_names(settings.optimizers)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "rows.pt")
        mp.spawn(_sharded_worker, args=(world, port, settings, out), nprocs=world)
        rows = torch.load(out, weights_only=True)
    return {"settings": asdict(settings), "world_size": world, "rows": rows}
