"""The report's section of each part: Markdown lines from the part's result."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..cost_report import COLUMNS
from ..tables import Column, column, markdown_table


def cell(value: Any) -> str:
    """A table cell: floats with 3 decimals, '-' for missing values."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value).replace("|", "\\|")


def cells(title: str, key: str) -> Column:
    """A column showing ``row[key]`` as a ``cell``."""
    return column(title, key, cell)


SYNC_COLUMNS: tuple[Column, ...] = (
    cells("Method", "method"),
    cells("Schedule", "schedule"),
    cells("Declaration", "declaration"),
    cells("Checked ('error')", "checked"),
    cells("Exempt", "exempt"),
    cells("Declared reads", "declared_reads"),
    cells("Syncs seen (exempt)", "observed_syncs"),
    ("Sync-free", lambda r: cell(r["verdict"] + (f": {r['note']}" if r.get("note") else ""))),
)


def sync_section(result: dict[str, Any]) -> list[str]:
    """The sync-free check's table."""
    intro = (
        f"{result.get('model')} at batch {result.get('batch_size')}, {result.get('steps')} steps "
        f"per method after 2 unchecked ones, ARSAM window {result.get('arsam_window')}."
    )
    return [intro, "", markdown_table(SYNC_COLUMNS, result.get("rows", []))]


def cost_section(result: dict[str, Any]) -> list[str]:
    """One table per precision mode, with tools/benchmark.py's columns."""
    lines = [f"Model {result.get('model')}, batch {result.get('batch_size')}.", ""]
    for mode in result.get("modes", []):
        layout = "channels_last" if mode["channels_last"] else "contiguous"
        lines.append(
            f"**{mode['precision']}** ({layout}, {mode.get('parameters', '-')} parameters)"
        )
        lines.append("")
        if mode.get("error"):
            lines += ["```", *mode["error"], "```", ""]
            continue
        lines += [markdown_table(COLUMNS, mode["rows"]), ""]
    return lines


def training_columns(reference: str) -> tuple[Column, ...]:
    """The columns of a training part's table, ratios over the ``reference`` optimizer."""
    return (
        cells("Optimizer", "optimizer"),
        ("Iterations (timed)", lambda r: f"{r.get('iterations')} ({r.get('timed_iterations')})"),
        cells("Mean s/iter", "time_s"),
        cells("Median s/iter", "median_time_s"),
        cells("Mean data s/iter", "data_time_s"),
        cells("SAM fraction f", "sam_fraction"),
        cells(f"Time / {reference}", "time_vs_base"),
        cells(f"t / ((1 + f) t_{reference})", "overhead"),
        cells("Same without data time", "compute_overhead"),
        ("Error", lambda r: cell((r.get("error") or ["-"])[-1])),
    )


def training_section(result: dict[str, Any], reference: str) -> list[str]:
    """Iteration times of the tools/train.py runs, over the reference optimizer's."""
    keys = ("config", "batch_size", "images", "epochs", "options", "arsam")
    intro = ", ".join(f"{k}: {result[k]}" for k in keys if k in result)
    return [intro, "", markdown_table(training_columns(reference), result.get("rows", []))]


def curve_cell(points: list[list[float]]) -> str:
    """An accuracy-time curve as '[train s, top-1 %]' pairs."""
    return " ".join(f"[{cell(t)}, {cell(a)}]" for t, a in points)


ACCURACY_COLUMNS: tuple[Column, ...] = (
    cells("Optimizer", "optimizer"),
    cells("Final top-1 (%)", "final"),
    cells("Best top-1 (%)", "best"),
    cells("Passes/step", "passes_per_step"),
    cells("SAM fraction", "sam_fraction"),
    cells("Train time (s)", "train_time_s"),
    ("Curve [train s, top-1 %]", lambda r: cell(curve_cell(r.get("curve", [])))),
)


def accuracy_section(result: dict[str, Any]) -> list[str]:
    """Final and best accuracy, passes and training time, and the accuracy-time points."""
    if result.get("available") is False:
        return [f"Not available: {result.get('note')}."]
    intro = (
        f"CIFAR ResNet-18 on procedural images ({result.get('images')} train/test), "
        f"{result.get('epochs')} epochs at batch {result.get('batch_size')}, ARSAM "
        f"{result.get('arsam')}, through tools/compare.py."
    )
    return [intro, "", markdown_table(ACCURACY_COLUMNS, result.get("rows", []))]


SECTIONS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "sync": sync_section,
    "cost_resnet18": cost_section,
    "cost_wrn28_10": cost_section,
    "pose": lambda result: training_section(result, "adam"),
    "quantization": lambda result: training_section(result, "sgd"),
    "accuracy": accuracy_section,
}
