"""Train one (workload, optimizer, seed, horizon) in plain PyTorch and return its record."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from .compared import OptimizerSpec, build_optimizer, optimizer_spec
from .data import Tensors, load_tensors
from .models import build_model
from .radius import chosen_radius
from .workloads import Workload

_EVAL_CHUNK = 4096


def batches_per_epoch(num_samples: int, batch_size: int) -> int:
    """Whole batches in one permutation of the samples (at least one)."""
    return max(num_samples // batch_size, 1)


def batch_indices(num_samples: int, batch_size: int, steps: int, seed: int) -> Tensor:
    """(steps, batch_size) sample indices: successive random permutations (epochs), cut."""
    generator = torch.Generator().manual_seed(seed)
    per_epoch = batches_per_epoch(num_samples, batch_size)
    epochs = math.ceil(steps / per_epoch)
    used = per_epoch * batch_size
    orders = [torch.randperm(num_samples, generator=generator)[:used] for _ in range(epochs)]
    return torch.cat(orders).view(-1, batch_size)[:steps]


def epoch_batches(
    x: Tensor, y: Tensor, indices: Tensor, per_epoch: int
) -> Iterator[tuple[Tensor, Tensor]]:
    """The (x, y) batches of ``indices`` (rows = steps), one gather per epoch and views after.

    Equal to ``x[indices[step]], y[indices[step]]`` for every step, with one indexing call
    per epoch instead of two per step (a tiny model's step costs tens of microseconds each).
    """
    for start in range(0, len(indices), per_epoch):
        epoch = indices[start : start + per_epoch]
        flat = epoch.reshape(-1)
        x_epoch, y_epoch = x[flat].view(*epoch.shape, *x.shape[1:]), y[flat].view(epoch.shape)
        yield from zip(x_epoch.unbind(0), y_epoch.unbind(0))


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Top-1 accuracy of ``model`` in eval mode on (x, y)."""
    model.eval()
    correct = 0
    for start in range(0, len(y), _EVAL_CHUNK):
        logits = model(x[start : start + _EVAL_CHUNK])
        correct += int((logits.argmax(dim=1) == y[start : start + _EVAL_CHUNK]).sum())
    model.train()
    return correct / max(len(y), 1)


def cosine_lr(peak: float, step: int, total_steps: int) -> float:
    """peak * (1 + cos(pi * step / total_steps)) / 2."""
    return 0.5 * peak * (1.0 + math.cos(math.pi * step / total_steps))


@contextmanager
def denormals_flushed(flush: bool) -> Iterator[None]:
    """Run the block with subnormal floats flushed to zero if ``flush``; torch's default after."""
    torch.set_flush_denormal(flush)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def workload_config(workload: Workload) -> dict[str, Any]:
    """The workload's settings as plain JSON values (stored in each record)."""
    return json.loads(json.dumps(dataclasses.asdict(workload)))


def horizon_config(config: dict[str, Any], horizon: str) -> dict[str, Any]:
    """The settings of ``config`` (a ``workload_config``) that a run at ``horizon`` uses.

    A run's identity: changing another horizon's length, model or data leaves it current.
    """
    settings = {key: value for key, value in config.items() if key != "horizons"}
    settings["horizon"] = config.get("horizons", {}).get(horizon)
    return settings


def optimizer_settings(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The optimizer's class and its rule's settings, defaults included, as JSON values.

    Part of a run's identity: a changed default (e.g. what ARSAM reuses) changes them
    although the arguments the run was built with do not.
    """
    settings: dict[str, Any] = {"class": type(optimizer).__name__}
    if "rho" in optimizer.defaults:
        settings["rho"] = optimizer.defaults["rho"]
    rule = getattr(optimizer, "rule", None)
    if rule is not None:
        settings.update(rule=rule.name, **rule.settings())
    return json.loads(json.dumps(settings))


def build_run(
    workload: Workload, spec: OptimizerSpec, seed: int, horizon: str, data: Tensors
) -> tuple[nn.Module, torch.optim.Optimizer, dict[str, Any]]:
    """The seeded model and the optimizer (with its arguments) of one run, before training."""
    model_name, model_kwargs = workload.model_at(horizon)
    torch.manual_seed(seed)
    model = build_model(model_name, data.in_shape, data.num_classes, **model_kwargs)
    opt, kwargs = build_optimizer(
        spec,
        model.parameters(),
        workload.base,
        {"lr": workload.lr, **workload.base_kwargs},
        chosen_radius(workload, horizon, spec.name),
        workload.steps(horizon),
        seed,
    )
    return model, opt, kwargs


def run_settings(
    workload: Workload, optimizer: OptimizerSpec | str, seed: int, horizon: str
) -> dict[str, Any]:
    """The ``optimizer_settings`` a run of these would record (builds it; trains nothing)."""
    data = load_tensors(workload.data_at(horizon), seed)
    _, opt, _ = build_run(workload, optimizer_spec(optimizer), seed, horizon, data)
    return optimizer_settings(opt)


def train_one(
    workload: Workload,
    optimizer: OptimizerSpec | str,
    seed: int,
    horizon: str,
    data: Tensors | None = None,
) -> dict[str, Any]:
    """Train ``workload`` with ``optimizer`` for the horizon's steps; the run's record."""
    spec = optimizer_spec(optimizer)
    steps = workload.steps(horizon)
    model_name = workload.model_at(horizon)[0]
    data = data if data is not None else load_tensors(workload.data_at(horizon), seed)
    model, opt, kwargs = build_run(workload, spec, seed, horizon, data)
    settings = optimizer_settings(opt)
    if hasattr(opt, "freeze_statistics_of"):
        opt.freeze_statistics_of(model)
    indices = batch_indices(len(data.y_train), workload.batch_size, steps, seed)
    per_epoch = batches_per_epoch(len(data.y_train), workload.batch_size)
    # ESAM's data selection needs one loss per sample (ESAM's docstring: the closure contract)
    selects_data = getattr(opt, "selects_data", False)
    x_train, y_train = data.x_train, data.y_train
    groups = opt.param_groups
    model.train()
    loss = torch.zeros(())
    with denormals_flushed(workload.flush_denormals):
        started, cpu_started = time.perf_counter(), time.process_time()
        batches = epoch_batches(x_train, y_train, indices, per_epoch)
        for step, (x, y) in enumerate(batches):
            lr = cosine_lr(workload.lr, step, steps)
            for group in groups:
                group["lr"] = lr

            def closure(x: Tensor = x, y: Tensor = y) -> Tensor:
                opt.zero_grad(set_to_none=True)
                loss = nn.functional.cross_entropy(model(x), y)
                loss.backward()
                return loss

            def per_sample_closure(
                subset: Tensor | None = None, backward: bool = True, x: Tensor = x, y: Tensor = y
            ) -> Tensor:
                xs, ys = (x, y) if subset is None else (x[subset], y[subset])
                losses = nn.functional.cross_entropy(model(xs), ys, reduction="none")
                if backward:
                    opt.zero_grad(set_to_none=True)
                    losses.mean().backward()
                return losses

            loss = opt.step(per_sample_closure if selects_data else closure)
        wall = time.perf_counter() - started
        # CPU seconds of this process: unlike the wall time, barely changed by other load.
        cpu = time.process_time() - cpu_started
        test_accuracy = accuracy(model, data.x_test, data.y_test)
        train_accuracy = accuracy(model, x_train, y_train)
    stats = dict(getattr(opt, "stats", {"steps": steps, "sam_steps": 0, "grad_evals": steps}))
    # forward-backward passes in units of the full batch (ESAM's partial second pass counts
    # as the share of the batch it uses); the others: one per gradient evaluation
    passes = stats.get("passes", stats.get("grad_evals", steps))
    return {
        "workload": workload.name,
        "optimizer": spec.label,
        "optimizer_name": spec.name,
        "optimizer_kwargs": kwargs,
        "optimizer_settings": settings,
        "base": workload.base,
        "seed": seed,
        "horizon": horizon,
        "steps": steps,
        "model": model_name,
        "workload_config": workload_config(workload),
        "accuracy": test_accuracy,
        "train_accuracy": train_accuracy,
        "final_loss": float(loss.detach().mean()) if isinstance(loss, Tensor) else float(loss),
        "passes_per_step": passes / steps,
        "sam_fraction": stats.get("sam_steps", 0) / steps,
        "wall_time_s": wall,
        "cpu_time_s": cpu,
        "stats": {k: v for k, v in stats.items() if isinstance(v, (int, float))},
    }
