"""tools/train.py runs of the pose and quantization parts: options, timing, ratios."""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from .context import PartContext
from .processes import exit_description, run_command, tail
from .settings import REPO, Scale

ARSAM_TRAIN_OPTIONS = ("optim_wrapper.optimizer.warmup_epochs=0",)


def train_command(config: str, work_dir: str, options: Sequence[str]) -> list[str]:
    """tools/train.py on ``config`` with ``--cfg-options``."""
    script = os.path.join(REPO, "tools", "train.py")
    return [sys.executable, script, config, "--work-dir", work_dir, "--cfg-options", *options]


def common_train_options(scale: Scale, batch: int) -> list[str]:
    """--cfg-options shared by the pose and quantization runs: timing logs, no val, no ckpt."""
    persistent = "True" if scale.workers > 0 else "False"
    return [
        f"train_dataloader.batch_size={batch}",
        f"train_dataloader.num_workers={scale.workers}",
        f"train_dataloader.persistent_workers={persistent}",
        f"val_dataloader.num_workers={scale.workers}",
        f"val_dataloader.persistent_workers={persistent}",
        "train_cfg.val_begin=1000000",
        "default_hooks.logger.interval=1",
        "log_processor.window_size=1",
        "default_hooks.checkpoint.interval=1000000",
        "default_hooks.checkpoint.save_last=False",
        "randomness.seed=0",
    ]


def arsam_train_options(name: str, scale: Scale) -> list[str]:
    """ARSAM's options in the training parts (no warm-up, the check's window); none otherwise."""
    from ..cost import var_blocks_for

    if name != "arsam":
        return []
    window = scale.arsam_window
    return [
        *ARSAM_TRAIN_OPTIONS,
        f"optim_wrapper.optimizer.window={window}",
        f"optim_wrapper.optimizer.var_blocks={var_blocks_for(window)}",
    ]


def timed_sam_fraction(records: list[dict[str, Any]], skip: int) -> float:
    """SAM steps per iteration over the iterations after ``skip``, from the logged grad_evals.

    ``grad_evals`` counts closure calls since the start; a plain optimizer logs none (f = 0).
    """
    evals = [r.get("grad_evals") for r in records]
    timed = len(records) - skip
    if timed <= 0 or not all(isinstance(e, int | float) for e in evals):
        return 0.0
    before = evals[skip - 1] if skip > 0 else 0
    return (evals[-1] - before) / timed - 1.0


def iteration_times(work_dir: str, skip: int) -> dict[str, Any]:
    """Mean and median iteration times, data time and SAM fraction after ``skip`` iterations.

    Ratios use the mean: with a SAM step on a fraction f of the iterations the median is
    the time of a one-pass iteration.
    """
    from ..scalars import read_scalar_records

    records = [r for r in read_scalar_records(work_dir) if "loss" in r and "time" in r]
    skip = skip if len(records) > skip else 0
    timed = records[skip:]
    times = [r["time"] for r in timed]
    data_times = [r.get("data_time", 0.0) for r in timed]
    return {
        "iterations": len(records),
        "timed_iterations": len(timed),
        "time_s": statistics.fmean(times) if times else None,
        "median_time_s": statistics.median(times) if times else None,
        "data_time_s": statistics.fmean(data_times) if timed else None,
        "sam_fraction": timed_sam_fraction(records, skip),
    }


def train_each(
    ctx: PartContext, runs: Sequence[tuple[str, str, list[str]]], result: dict[str, Any]
) -> None:
    """Train each (name, config, options) through tools/train.py, sharing the time left."""
    result.setdefault("rows", [])
    for index, (name, config, options) in enumerate(runs):
        work_dir = os.path.join(ctx.out, name)
        shutil.rmtree(work_dir, ignore_errors=True)
        log = os.path.join(ctx.out, f"{name}.log")
        timeout = (ctx.seconds_left() - 2.0) / (len(runs) - index)
        start = time.monotonic()
        code = run_command(train_command(config, work_dir, options), log, timeout)
        row = {"optimizer": name, "config": config, "wall_s": time.monotonic() - start}
        row.update(iteration_times(work_dir, ctx.scale.skip_iters))
        if code != 0:
            row["error"] = [exit_description("tools/train.py", code), *tail(log)]
        result["rows"].append(row)
        ctx.save(result)


def add_ratios(rows: list[dict[str, Any]], reference: str) -> None:
    """Per row: time over ``reference``'s, and over (1 + f) times it (with and without data)."""
    base = next((r for r in rows if r["optimizer"] == reference and r.get("time_s")), None)
    for row in rows:
        if base is None or not row.get("time_s"):
            continue
        f = row.get("sam_fraction") or 0.0
        row["time_vs_base"] = row["time_s"] / base["time_s"]
        row["overhead"] = row["time_s"] / ((1.0 + f) * base["time_s"])
        compute, base_compute = (
            row["time_s"] - (row.get("data_time_s") or 0.0),
            base["time_s"] - (base.get("data_time_s") or 0.0),
        )
        if compute > 0 and base_compute > 0:
            row["compute_overhead"] = compute / ((1.0 + f) * base_compute)
