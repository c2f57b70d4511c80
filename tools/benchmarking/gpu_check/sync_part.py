"""Part ``sync``: every two-pass method's steps under CUDA's sync debug mode."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .context import PartContext, error_lines
from .cost_part import paper_options
from .settings import ARSAM_PAPER


@contextmanager
def sync_warnings(device: str) -> Iterator[list[str]]:
    """CUDA's sync debug mode 'warn' for the block; yields the sync warnings seen (CUDA only)."""
    import torch

    seen: list[str] = []
    if not device.startswith("cuda"):
        yield seen
        return
    previous = torch.cuda.get_sync_debug_mode()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            yield seen
        finally:
            torch.cuda.set_sync_debug_mode(previous)
            torch.cuda.synchronize()
    seen.extend(str(w.message) for w in caught if "synchroniz" in str(w.message).lower())


def declared_reads(optimizer: Any) -> int | None:
    """The host reads the coming step declares (``host_reads_ahead``); None without one."""
    declaration = getattr(optimizer, "host_reads_ahead", None)
    return int(declaration()) if callable(declaration) else None


def two_pass_methods() -> list[str]:
    """Every registered two-pass method, in the registry's order."""
    from ..optimizers import ALL_OPTIMIZERS, is_two_pass

    return [name for name in ALL_OPTIMIZERS if is_two_pass(name)]


def schedule_name(optimizer: Any) -> str | None:
    """The name of the schedule a method runs (ARSAM's paper or horizon-aware), if it has one."""
    for owner in (optimizer, getattr(optimizer, "rule", None)):
        schedule = getattr(owner, "schedule", None)
        if schedule is not None:
            return str(getattr(schedule, "name", type(schedule).__name__))
    return None


def sync_config(name: str, settings: Any) -> dict[str, Any]:
    """The method's config in the sync check: its defaults, the run's length, seed 0."""
    from ..optimizers import optimizer_config

    base = {"type": "SGD", "lr": settings.lr, "momentum": settings.momentum}
    base["weight_decay"] = settings.weight_decay
    options = paper_options(settings.arsam_window) if name == ARSAM_PAPER else {}
    total = settings.warmup + settings.steps
    return optimizer_config(name, base, settings.rho, total_steps=total, seed=0, options=options)


def sync_verdict(device: str, checked: int, failure: str | None) -> str:
    """n/a off CUDA, else whether the checked steps ran without a host synchronisation."""
    if not device.startswith("cuda"):
        return "n/a (CPU)"
    return f"no ({failure})" if failure else f"yes ({checked} steps checked)"


def check_variant(name: str, settings: Any, model: Any, batches: list) -> dict[str, Any]:
    """Run one method's steps; those declaring 0 host reads under sync debug mode 'error'."""
    import torch

    from ..cost import Contestant, is_window_boundary, run_step
    from ..device import host_syncs_forbidden
    from ..optimizers import build_optimizer

    config = sync_config(name, settings)
    copy_of_model = copy.deepcopy(model).to(settings.device)
    optimizer = build_optimizer(config, copy_of_model.parameters())
    optimizer.freeze_statistics_of(copy_of_model)
    row: dict[str, Any] = {"method": name, "schedule": schedule_name(optimizer), "config": config}
    contestant = Contestant(name, copy_of_model, optimizer, config)
    for index in range(settings.warmup):
        run_step(contestant, batches[index % len(batches)])
    counts = {"checked": 0, "exempt": 0, "declared_reads": 0, "observed_syncs": 0}
    declared, failure = True, None
    for index in range(settings.steps):
        batch = batches[(settings.warmup + index) % len(batches)]
        reads = declared_reads(optimizer)
        declared = declared and reads is not None
        exempt = is_window_boundary(optimizer) if reads is None else reads > 0
        if not exempt:
            try:
                with host_syncs_forbidden(torch.device(settings.device)):
                    run_step(contestant, batch)
            except RuntimeError as error:
                failure = f"step {index}: {(str(error).strip() or 'error').splitlines()[0]}"
                break
            counts["checked"] += 1
            continue
        with sync_warnings(settings.device) as seen:
            run_step(contestant, batch)
        counts["exempt"] += 1
        counts["declared_reads"] += reads or 0
        counts["observed_syncs"] += len(seen)
    row.update(counts, declaration="declared" if declared else "no declaration")
    row["verdict"] = sync_verdict(settings.device, counts["checked"], failure)
    return row


def part_sync(ctx: PartContext) -> dict[str, Any]:
    """Every registered two-pass method under CUDA's sync debug mode, declared reads exempt."""
    from ..cost import BenchmarkSettings, build_model, make_batches

    scale = ctx.scale
    settings = BenchmarkSettings(
        model=scale.resnet18["type"],
        model_kwargs={k: v for k, v in scale.resnet18.items() if k != "type"},
        input_shape=scale.input_shape,
        batch_size=scale.sync_batch,
        steps=scale.sync_steps,
        warmup=2,
        device=ctx.device,
        arsam_window=scale.arsam_window,
    )
    model = build_model(settings)
    batches = make_batches(settings, settings.device)
    result: dict[str, Any] = {
        "model": settings.model,
        "batch_size": settings.batch_size,
        "steps": settings.steps,
        "arsam_window": settings.arsam_window,
        "rows": [],
    }
    for name in two_pass_methods():
        try:
            row = check_variant(name, settings, model, batches)
        except Exception as error:  # a crash in one method's steps: record it, go on
            row = {"method": name, "verdict": "crashed", "error": error_lines(error)}
            row["note"] = row["error"][-1]
        result["rows"].append(row)
        ctx.save(result)
    return result
