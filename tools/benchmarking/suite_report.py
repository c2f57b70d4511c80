"""Tables, target verdicts and the accuracy-against-passes plot of the evidence suite's records."""

from __future__ import annotations

import math
import os
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from .tables import column, fixed, markdown_table, write_json, write_text

# ARSAM's targets (docs/benchmarks.md, "The frontier"): at most this many passes per step.
MAX_PASSES = 1.10
CANDIDATE = "ARSAM"


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (workload, horizon, optimizer): seeds, accuracy (%), passes, SAM share, time."""
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = defaultdict(list)
    order: dict[str, int] = {}
    for record in records:
        groups[record["workload"], record["horizon"], record["optimizer"]].append(record)
        order.setdefault(record["optimizer"], len(order))
    rows = []
    for (workload, horizon, optimizer), runs in groups.items():
        accuracy = [100.0 * r["accuracy"] for r in runs]
        mean, std = _mean_std(accuracy)
        rows.append(
            {
                "workload": workload,
                "horizon": horizon,
                "steps": runs[0]["steps"],
                "optimizer": optimizer,
                "seeds": len(runs),
                "accuracy_mean": mean,
                "accuracy_std": std,
                "accuracy_min": min(accuracy),
                "accuracy_max": max(accuracy),
                "rho": runs[0].get("optimizer_kwargs", {}).get("rho"),
                "passes_per_step": statistics.fmean(r["passes_per_step"] for r in runs),
                "cpu_time_s": statistics.fmean(r.get("cpu_time_s", math.nan) for r in runs),
                "sam_fraction": statistics.fmean(r["sam_fraction"] for r in runs),
                "wall_time_s": statistics.fmean(r["wall_time_s"] for r in runs),
            }
        )
    rows.sort(key=lambda r: (r["workload"], r["steps"], order[r["optimizer"]]))
    return rows


def blocks(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], list[Mapping[str, Any]]]:
    """The rows grouped by (workload, horizon), in order."""
    grouped: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        grouped.setdefault((row["workload"], row["horizon"]), []).append(row)
    return grouped


def verdict(block: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """SAM's gain over the base optimizer and the candidate's three targets, for one block.

    - SAM matters: SAM - base >= 2 points with separated seed ranges;
    - accuracy: the candidate's mean >= SAM's mean - SAM's seed standard deviation;
    - cost: at most MAX_PASSES forward-backward passes per step;
    - frontier: no peer at equal or fewer passes beats it by more than the larger of the
      two seed standard deviations.
    """
    by_name = {r["optimizer"]: r for r in block}
    sam, base, candidate = (by_name.get(n) for n in ("SAM", "base", CANDIDATE))
    if sam is None or base is None:
        return None
    result: dict[str, Any] = {
        "sam_gain": sam["accuracy_mean"] - base["accuracy_mean"],
        "sam_separated": sam["accuracy_min"] > base["accuracy_max"],
    }
    result["sam_matters"] = result["sam_gain"] >= 2.0 and result["sam_separated"]
    if candidate is None:
        return result
    result["accuracy_met"] = (
        candidate["accuracy_mean"] >= sam["accuracy_mean"] - sam["accuracy_std"]
    )
    result["passes_met"] = candidate["passes_per_step"] <= MAX_PASSES
    beaten_by = [
        r["optimizer"]
        for r in block
        if r["optimizer"] not in (CANDIDATE, "base")
        and r["passes_per_step"] <= candidate["passes_per_step"] + 1e-9
        and r["accuracy_mean"] - candidate["accuracy_mean"]
        > max(r["accuracy_std"], candidate["accuracy_std"])
    ]
    result["beaten_by"] = beaten_by
    result["frontier_met"] = not beaten_by
    return result


def _mark(value: bool | None) -> str:
    return "-" if value is None else ("met" if value else "**missed**")


def markdown(records: Iterable[Mapping[str, Any]]) -> str:
    """A table per (workload, horizon) and a summary of the targets across all of them."""
    rows = summarize(records)
    columns = [
        column("Optimizer", "optimizer"),
        column("rho", "rho"),
        column("Seeds", "seeds"),
        column("Accuracy (%)", "accuracy", str),
        column("Min-max", "range", str),
        column("Passes/step", "passes_per_step", fixed(3)),
        column("SAM fraction", "sam_fraction", fixed(3)),
        column("Time (s)", "wall_time_s", fixed(1)),
    ]
    lines: list[str] = []
    summary: list[dict[str, Any]] = []
    for (workload, horizon), block in blocks(rows).items():
        shown = [
            {
                **r,
                "accuracy": f"{r['accuracy_mean']:.2f} ± {r['accuracy_std']:.2f}",
                "range": f"{r['accuracy_min']:.2f}-{r['accuracy_max']:.2f}",
            }
            for r in block
        ]
        lines += [f"### {workload}, {horizon} ({block[0]['steps']} steps)", ""]
        lines.append(markdown_table(columns, shown))
        result = verdict(block)
        if result is not None:
            separated = "separated" if result["sam_separated"] else "NOT separated"
            lines.append(
                f"\nSAM - base: {result['sam_gain']:+.2f} points, seed ranges {separated}."
            )
            summary.append({"workload": workload, "horizon": horizon, **result})
        lines.append("")
    if any("accuracy_met" in s for s in summary):
        lines += ["### The frontier: every method over all cells", ""]
        lines.append(frontier_markdown(rows))
        lines += ["", "### ARSAM's targets", ""]
        lines.append(
            markdown_table(
                [
                    column("Workload", "workload"),
                    column("Horizon", "horizon"),
                    column("SAM - base", "sam_gain", fixed(2)),
                    column("SAM matters", "sam_matters", _mark),
                    column("Accuracy >= SAM - std", "accuracy_met", _mark),
                    column(f"Passes <= {MAX_PASSES}", "passes_met", _mark),
                    column("No cheaper peer better", "frontier", str),
                ],
                [
                    {
                        **s,
                        "frontier": _mark(s.get("frontier_met"))
                        + (f" ({', '.join(s['beaten_by'])})" if s.get("beaten_by") else ""),
                    }
                    for s in summary
                ],
            )
        )
    return "\n".join(lines)


def frontier(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per method over all cells: mean passes, mean CPU time and accuracy against SAM's."""
    cells = blocks(rows)
    per_method: dict[str, list[tuple[Mapping[str, Any], Mapping[str, Any]]]] = defaultdict(list)
    for block in cells.values():
        by_name = {r["optimizer"]: r for r in block}
        if "SAM" not in by_name or "base" not in by_name:
            continue
        for row in block:
            per_method[row["optimizer"]].append((row, by_name))
    result = []
    for method, pairs in per_method.items():
        result.append(
            {
                "optimizer": method,
                "cells": len(pairs),
                "passes_per_step": statistics.fmean(r["passes_per_step"] for r, _ in pairs),
                "cpu_vs_base": statistics.fmean(
                    r["cpu_time_s"] / cell["base"]["cpu_time_s"] for r, cell in pairs
                ),
                "vs_sam": statistics.fmean(
                    r["accuracy_mean"] - cell["SAM"]["accuracy_mean"] for r, cell in pairs
                ),
                "at_sam": sum(
                    r["accuracy_mean"] >= cell["SAM"]["accuracy_mean"] - cell["SAM"]["accuracy_std"]
                    for r, cell in pairs
                ),
            }
        )
    return sorted(result, key=lambda r: r["passes_per_step"])


def frontier_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """``frontier`` as a table, cheapest first."""
    shown = [{**r, "at_sam": f"{r['at_sam']} of {r['cells']}"} for r in frontier(rows)]
    return markdown_table(
        [
            column("Optimizer", "optimizer"),
            column("Passes/step", "passes_per_step", fixed(3)),
            column("CPU time / base", "cpu_vs_base", fixed(2)),
            column("Accuracy - SAM's (points, mean)", "vs_sam", fixed(2)),
            column("Cells at SAM - std", "at_sam"),
        ],
        shown,
    )


def plot_accuracy_against_passes(records: Iterable[Mapping[str, Any]], path: str) -> str:
    """One panel per (workload, horizon): accuracy (mean ± std) against passes per step."""
    figure = accuracy_against_passes_figure(records)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def accuracy_against_passes_figure(records: Iterable[Mapping[str, Any]]) -> Any:
    """The figure plot_accuracy_against_passes saves, its legend naming the passes target."""
    grouped = blocks(summarize(records))
    count = max(len(grouped), 1)
    columns = min(3, count)
    rows_of_panels = (count + columns - 1) // columns
    figure, axes = plt.subplots(
        rows_of_panels, columns, figsize=(max(7, 5 * columns), 3.8 * rows_of_panels), squeeze=False
    )
    names = sorted({r["optimizer"] for block in grouped.values() for r in block})
    # tab20's strong colours first, then its light ones: up to 20 distinct names
    shades = [*range(0, 20, 2), *range(1, 20, 2)]
    colours = {name: plt.cm.tab20(shades[i % 20]) for i, name in enumerate(names)}
    for ax, ((workload, horizon), block) in zip(axes.flat, grouped.items(), strict=False):
        for r in block:
            ax.errorbar(
                r["passes_per_step"],
                r["accuracy_mean"],
                yerr=r["accuracy_std"],
                fmt="o",
                color=colours[r["optimizer"]],
                capsize=3,
                label=r["optimizer"],
            )
        ax.axvline(MAX_PASSES, color="grey", linestyle=":", linewidth=1)
        ax.set_title(f"{workload}, {horizon}", fontsize=10)
        ax.set_xlabel("forward-backward passes per step")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(grouped) :]:
        ax.axis("off")
    handles = [
        plt.Line2D([], [], marker="o", linestyle="", color=colours[n], label=n) for n in names
    ]
    handles.append(
        plt.Line2D(
            [], [], color="grey", linestyle=":", label=f"target: {MAX_PASSES} passes per step"
        )
    )
    ncol = min(len(handles), 3 if columns == 1 else 3 * columns)
    legend_rows = math.ceil(len(handles) / ncol)
    figure.legend(handles=handles, loc="lower center", ncol=ncol, frameon=False)
    figure.tight_layout(rect=(0, min(0.4, 0.07 * legend_rows / rows_of_panels), 1, 1))
    return figure


def write_suite_report(records: Sequence[Mapping[str, Any]], out_dir: str) -> dict[str, str]:
    """report.md, summary.json, accuracy_vs_passes.png and telemetry.json under ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {
        "report": os.path.join(out_dir, "report.md"),
        "summary": os.path.join(out_dir, "summary.json"),
        "plot": os.path.join(out_dir, "accuracy_vs_passes.png"),
        "telemetry": os.path.join(out_dir, "telemetry.json"),
    }
    write_text(paths["report"], markdown(records) + "\n")
    write_json(paths["summary"], summarize(records))
    plot_accuracy_against_passes(records, paths["plot"])
    telemetry = [
        {
            key: r.get(key)
            for key in ("workload", "horizon", "optimizer", "seed", "stats", "optimizer_kwargs")
        }
        for r in records
    ]
    write_json(paths["telemetry"], telemetry)
    return paths
