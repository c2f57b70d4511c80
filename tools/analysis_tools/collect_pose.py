"""Summarise pose runs from MMEngine's vis_data scalar logs into one Markdown table.

Usage::

    python -m arsam.tools.analysis_tools.collect_pose adam=work_dirs/adam sam=work_dirs/sam \
        arsam=work_dirs/arsam --reference sam --out results.md

Each run folder is searched for ``*/vis_data/scalars.json`` (one per start, so a resumed run
contributes several files, read in order). Accuracy is taken from the last validation and the
best one; iteration time is the mean logged ``time`` of training entries; the SAM telemetry
(``sam_fraction``, ``quota``, ``psf_ratio``) is the last logged value, and passes per iteration
are the slope of the cumulative ``grad_evals`` counter between the first and last log entries.
Wall-clock time comes from ``run_info.json`` when tools/reproduce/pose.sh wrote one.
"""

from __future__ import annotations

import argparse
import json
import math
import os.path as osp
from collections.abc import Sequence
from dataclasses import dataclass, field

from arsam.tools.analysis_tools.work_dir_logs import lookup, read_records
from arsam.tools.benchmarking.tables import Column, fixed, markdown_table

METRIC_SETS = (("coco/AP", "coco/AR"), ("PCK", "PCK@0.1"))
FIXED = {digits: fixed(digits) for digits in (2, 3, 4)}  # '-' for missing values
TELEMETRY = ("sam_fraction", "grad_evals", "quota", "psf_ratio")


@dataclass
class RunSummary:
    """What one run's logs say."""

    label: str
    metrics: dict[str, float] = field(default_factory=dict)
    best: dict[str, float] = field(default_factory=dict)
    iter_time: float = math.nan
    iterations: int = 0
    telemetry: dict[str, float] = field(default_factory=dict)
    evals_per_iter: float | None = None
    wall_hours: float | None = None


def wall_hours(work_dir: str) -> float | None:
    """Wall-clock hours from the run_info.json that tools/reproduce/pose.sh writes, if any."""
    path = osp.join(work_dir, "run_info.json")
    if not osp.isfile(path):
        return None
    with open(path) as handle:
        seconds = json.load(handle).get("wall_time_s")
    return None if seconds is None else seconds / 3600


def summarise(label: str, records: Sequence[dict], metric_keys: Sequence[str] = ()) -> RunSummary:
    """Reduce one run's records to accuracy, iteration time and SAM telemetry."""
    summary = RunSummary(label)
    keys = list(metric_keys) or detect_metrics(records)
    val = [r for r in records if any(k in r for k in keys)]
    train = [r for r in records if "iter" in r]
    if val:
        summary.metrics = {k: val[-1][k] for k in keys if k in val[-1]}
        summary.best = {k: max(r[k] for r in val if k in r) for k in summary.metrics}
    times = [r["time"] for r in train if "time" in r]
    if times:
        summary.iter_time = sum(times) / len(times)
        summary.iterations = max(int(r.get("step", r["iter"])) for r in train)
    for key in TELEMETRY:
        values = [v for v in (lookup(r, key) for r in train) if v is not None]
        if values:
            summary.telemetry[key] = float(values[-1])
    summary.evals_per_iter = evals_per_iteration(train)
    return summary


def evals_per_iteration(train: Sequence[dict]) -> float | None:
    """Forward-backward passes per iteration: the slope of the logged ``grad_evals`` counter."""
    points = [(r.get("step", r["iter"]), lookup(r, "grad_evals")) for r in train]
    points = [(step, evals) for step, evals in points if evals is not None]
    if len(points) < 2 or points[-1][0] == points[0][0]:
        return None
    (first_step, first), (last_step, last) = points[0], points[-1]
    return (last - first) / (last_step - first_step)


def detect_metrics(records: Sequence[dict]) -> list[str]:
    """The first known metric set the records contain (COCO AP/AR or MPII PCKh)."""
    for keys in METRIC_SETS:
        if any(keys[0] in r for r in records):
            return list(keys)
    return []


def table_columns(runs: Sequence[RunSummary], reference: str | None = None) -> list[Column]:
    """The table's columns; with ``reference``, iteration time relative to that run."""
    metric_keys = list(dict.fromkeys(k for run in runs for k in run.metrics))
    ref = next((run for run in runs if run.label == reference), None)
    first = metric_keys[0] if metric_keys else None
    columns: list[Column] = [("run", lambda run: run.label)]
    columns += [(k, lambda run, k=k: FIXED[4](run.metrics.get(k))) for k in metric_keys]
    columns += [
        (f"best {first}" if first else "best", lambda run: FIXED[4](run.best.get(first))),
        ("s/iter", lambda run: FIXED[4](run.iter_time)),
        ("iters", lambda run: str(run.iterations or "-")),
        ("SAM fraction", lambda run: FIXED[3](run.telemetry.get("sam_fraction"))),
        ("grad evals/iter", lambda run: FIXED[3](run.evals_per_iter)),
    ]
    if any(run.wall_hours is not None for run in runs):
        columns.append(("wall h", lambda run: FIXED[2](run.wall_hours)))
    if ref is not None:
        columns.append(
            (f"time vs {ref.label}", lambda run: FIXED[3](run.iter_time / ref.iter_time))
        )
    return columns


def parse_run(spec: str) -> tuple[str, str]:
    """'label=work_dir' or 'work_dir' (labelled by its folder name)."""
    if "=" in spec:
        label, path = spec.split("=", 1)
        return label, path
    return osp.basename(osp.normpath(spec)), spec


def main(argv: Sequence[str] | None = None) -> str:
    """Command-line entry point; prints the table and returns it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="label=work_dir or work_dir")
    parser.add_argument("--metrics", nargs="*", default=(), help="metric keys (default: auto)")
    parser.add_argument("--reference", help="label of the run to compare iteration time with")
    parser.add_argument("--out", help="also write the table to this file")
    args = parser.parse_args(argv)
    runs = []
    for spec in args.runs:
        label, path = parse_run(spec)
        runs.append(summarise(label, read_records(path, missing_ok=True), args.metrics))
        runs[-1].wall_hours = wall_hours(path)
    table = markdown_table(table_columns(runs, args.reference), runs)
    print(table, end="")
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(table)
    return table


if __name__ == "__main__":
    main()
