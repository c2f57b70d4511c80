"""Summarise classification work directories into one Markdown table.

Each run is one MMEngine work directory named ``<model>_<dataset>_<optimizer>`` (the config's
name). The summary reads the JSON scalar logs under ``<timestamp>/vis_data/`` (every timestamp,
so resumed runs are included), the dumped config for the batch size, and an optional
``run_info.json`` written by ``tools/reproduce/classification.sh`` (``wall_time_s``, ``gpus``).
Missing keys show as ``-``.

    python -m arsam.tools.analysis_tools.collect_classification work_dirs/classification \
        --output results.md
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import statistics
from collections.abc import Sequence
from typing import Any

from mmengine.config import Config

from arsam.core.mmengine_adapter.optim_wrapper import TELEMETRY_KEYS
from arsam.tasks.classification.accuracy import TOP1_KEY
from arsam.tools.analysis_tools.work_dir_logs import lookup, read_records
from arsam.tools.benchmarking.tables import Column, column, fixed, markdown_table, text

OPTIMIZERS = ("sgd", "sam", "arsam_paper", "arsam", "momentum_sam", "esam")
COLUMNS = (
    ("run", "Run"),
    ("model", "Model"),
    ("dataset", "Dataset"),
    ("optimizer", "Optimizer"),
    ("top1_best", "Top-1 best (%)"),
    ("top1_last", "Top-1 last (%)"),
    ("epochs", "Epochs"),
    ("wall_time_s", "Wall time (s)"),
    ("time_vs_sam", "Time / SAM"),
    ("images_per_s", "Images/s"),
    ("sam_fraction", "SAM fraction"),
    ("quota", "Quota"),
    ("psf_ratio", "PSF ratio"),
    ("grad_evals", "Grad evals"),
)


def _last(records: Sequence[dict[str, Any]], key: str) -> float | None:
    """The last finite value logged under ``key``."""
    for record in reversed(records):
        value = lookup(record, key)
        if isinstance(value, int | float) and math.isfinite(value):
            return float(value)
    return None


def _batch_size(work_dir: str) -> int | None:
    """Per-device training batch size from the config MMEngine dumped into the work dir."""
    candidates = sorted(glob.glob(os.path.join(work_dir, "*", "vis_data", "config.py")))
    candidates += sorted(glob.glob(os.path.join(work_dir, "*.py")))
    for path in reversed(candidates):
        try:
            cfg = Config.fromfile(path, import_custom_modules=False)
            return int(cfg.train_dataloader.batch_size)
        except Exception:
            continue
    return None


def _read_run_info(work_dir: str) -> dict[str, Any]:
    """The optional ``run_info.json`` of a work directory."""
    path = os.path.join(work_dir, "run_info.json")
    if not os.path.isfile(path):
        return {}
    with open(path) as handle:
        return json.load(handle)


def split_run_name(name: str) -> tuple[str, str, str]:
    """``resnet18_cifar10_arsam_paper`` -> (``resnet18``, ``cifar10``, ``arsam_paper``)."""
    # the longest suffix first: "momentum_sam" and "esam" also end in "sam"
    by_length = sorted(OPTIMIZERS, key=len, reverse=True)
    optimizer = next((o for o in by_length if name.endswith(f"_{o}")), "")
    rest = name[: -len(optimizer) - 1].split("_") if optimizer else name.split("_")
    dataset = next((p for p in rest if p.startswith(("cifar", "digits"))), "")
    model = "_".join(p for p in rest if p != dataset)
    return model or dataset, dataset, optimizer


def summarize_run(work_dir: str, metric: str = TOP1_KEY) -> dict[str, Any]:
    """Accuracy, time, throughput and SAM telemetry of one work directory."""
    records = read_records(work_dir, missing_ok=True)
    train = [r for r in records if "iter" in r or "lr" in r or "loss" in r]
    val = [r for r in records if metric in r]
    scores = [float(r[metric]) for r in val]
    info = _read_run_info(work_dir)
    name = os.path.basename(os.path.normpath(work_dir))
    model, dataset, optimizer = split_run_name(name)
    row: dict[str, Any] = {
        "run": name,
        "model": model,
        "dataset": dataset,
        "optimizer": optimizer,
        "top1_best": max(scores) if scores else None,
        "top1_last": scores[-1] if scores else None,
        "epochs": _last(train, "epoch"),
    }
    iter_times = [float(r["time"]) for r in train if isinstance(r.get("time"), int | float)]
    iterations = _last(train, "iter")
    mean_iter_time = statistics.fmean(iter_times) if iter_times else None
    wall_time = info.get("wall_time_s")
    if wall_time is None and mean_iter_time is not None and iterations is not None:
        wall_time = mean_iter_time * iterations
    row["wall_time_s"] = wall_time
    batch_size = info.get("batch_size") or _batch_size(work_dir)
    gpus = int(info.get("gpus", 1) or 1)
    row["images_per_s"] = (
        batch_size * gpus / mean_iter_time if batch_size and mean_iter_time else None
    )
    for key in TELEMETRY_KEYS:
        row[key] = _last(train, key)
    if row["sam_fraction"] is None:
        steps, sam_steps = _last(train, "steps"), _last(train, "sam_steps")
        if steps and sam_steps is not None:
            row["sam_fraction"] = sam_steps / steps
    return row


def _add_time_vs_sam(rows: list[dict[str, Any]]) -> None:
    """Wall time of each run relative to the SAM run of the same model and dataset."""
    sam_time = {
        (r["model"], r["dataset"]): r["wall_time_s"]
        for r in rows
        if r["optimizer"] == "sam" and r["wall_time_s"]
    }
    for row in rows:
        reference = sam_time.get((row["model"], row["dataset"]))
        has_both = reference and row["wall_time_s"] is not None
        row["time_vs_sam"] = row["wall_time_s"] / reference if has_both else None


CELL_DIGITS = {
    "top1_best": 2,
    "top1_last": 2,
    "epochs": 0,
    "wall_time_s": 0,
    "time_vs_sam": 3,
    "images_per_s": 1,
    "sam_fraction": 3,
    "quota": 2,
    "psf_ratio": 3,
    "grad_evals": 0,
}
TABLE: tuple[Column, ...] = tuple(
    column(title, key, fixed(CELL_DIGITS[key]) if key in CELL_DIGITS else text)
    for key, title in COLUMNS
)


def find_work_dirs(paths: Sequence[str]) -> list[str]:
    """Work directories among ``paths``: each path itself, or its subdirectories, with logs."""
    found = []
    for path in paths:
        if glob.glob(os.path.join(path, "*", "vis_data")):
            found.append(path)
            continue
        for child in sorted(glob.glob(os.path.join(path, "*"))):
            if glob.glob(os.path.join(child, "*", "vis_data")):
                found.append(child)
    return found


def collect(paths: Sequence[str], metric: str = TOP1_KEY) -> str:
    """The Markdown table of every work directory found under ``paths``."""
    order = {name: index for index, name in enumerate(OPTIMIZERS)}
    rows = [summarize_run(work_dir, metric) for work_dir in find_work_dirs(paths)]
    rows.sort(key=lambda r: (r["dataset"], r["model"], order.get(r["optimizer"], 99), r["run"]))
    _add_time_vs_sam(rows)
    return markdown_table(TABLE, rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="work directories or folders holding them")
    parser.add_argument("--output", help="also write the table to this file")
    parser.add_argument("--metric", default=TOP1_KEY, help="validation key for accuracy")
    args = parser.parse_args(argv)
    table = collect(args.paths, args.metric)
    print(table, end="")
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as handle:
            handle.write(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
