"""PNG figures of the comparison: accuracy against cost, and ARSAM's telemetry over training."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

ACCURACY_PLOT = "accuracy_vs_time.png"
TELEMETRY_PLOT = "arsam_telemetry.png"


def mean_curve(
    runs: Sequence[Mapping[str, Any]], x_key: str, y_key: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean x, mean y and std of y over runs, validation by validation (shortest run wins)."""
    series = [[p for p in run["points"] if y_key in p and x_key in p] for run in runs]
    length = min((len(s) for s in series), default=0)
    if length == 0:
        empty = np.zeros(0)
        return empty, empty, empty
    xs = np.array([[p[x_key] for p in s[:length]] for s in series], dtype=float)
    ys = np.array([[p[y_key] for p in s[:length]] for s in series], dtype=float)
    std = ys.std(axis=0, ddof=1) if len(series) > 1 else np.zeros(length)
    return xs.mean(axis=0), ys.mean(axis=0), std


def by_optimizer(runs: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Runs grouped by optimizer, in order of first appearance."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for run in runs:
        groups.setdefault(run["optimizer"], []).append(run)
    return groups


def plot_accuracy(runs: Sequence[Mapping[str, Any]], metric: str, path: str) -> str:
    """Accuracy against training time and against forward-backward passes, mean over seeds."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, group in by_optimizer(runs).items():
        for axis, x_key in zip(axes, ("train_time_s", "grad_evals")):
            x, y, std = mean_curve(group, x_key, metric)
            if x.size == 0:
                continue
            (line,) = axis.plot(x, y, marker="o", markersize=3, label=name)
            if len(group) > 1:
                axis.fill_between(x, y - std, y + std, color=line.get_color(), alpha=0.15)
    axes[0].set_xlabel("training time (s)")
    axes[1].set_xlabel("forward-backward passes")
    for axis in axes:
        axis.set_ylabel(f"{metric} (%)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    fig.suptitle("Validation accuracy against cost (mean over seeds, band: ± std)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def local_fraction(grad_evals: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """SAM fraction per logging interval, from the cumulative passes: d(passes)/d(steps) - 1."""
    if len(grad_evals) < 2:
        return np.zeros(0), np.zeros(0)
    data = np.asarray(grad_evals, dtype=float)
    steps, passes = data[:, 0], data[:, 1]
    gaps = np.diff(steps)
    keep = gaps > 0
    fraction = np.diff(passes)[keep] / gaps[keep] - 1.0
    return steps[1:][keep], fraction


def plot_telemetry(runs: Sequence[Mapping[str, Any]], name: str, path: str) -> str | None:
    """Quota, SAM fraction and PSF ratio of optimizer ``name`` over iterations, one line a seed."""
    group = [r for r in runs if r["optimizer"] == name and r["telemetry"].get("sam_fraction")]
    if not group:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for run in group:
        series, label = run["telemetry"], f"seed {run['seed']}"
        if series.get("quota"):
            quota = np.asarray(series["quota"])
            axes[0].plot(quota[:, 0], quota[:, 1], drawstyle="steps-post", label=label)
        cumulative = np.asarray(series["sam_fraction"])
        (line,) = axes[1].plot(cumulative[:, 0], cumulative[:, 1], label=f"{label}, cumulative")
        steps, fraction = local_fraction(series.get("grad_evals", []))
        if steps.size:
            axes[1].plot(
                steps,
                fraction,
                linestyle=":",
                color=line.get_color(),
                label=f"{label}, per log interval",
            )
        if series.get("psf_ratio"):
            ratio = np.asarray(series["psf_ratio"])
            axes[2].plot(ratio[:, 0], ratio[:, 1], label=label)
    titles = ("quota b (SAM steps per window)", "SAM fraction", "PSF ratio ||PSF||_S / ||g||_S")
    for axis, title in zip(axes, titles):
        axis.set_title(title)
        axis.set_xlabel("iteration")
        axis.grid(alpha=0.3)
        if axis.lines:
            axis.legend(fontsize=7)
    axes[1].set_ylim(-0.05, 1.05)
    fig.suptitle(f"{name} telemetry from vis_data/scalars.json")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_plots(runs: Sequence[Mapping[str, Any]], metric: str, out_dir: str) -> list[str]:
    """Both figures (telemetry of ARSAM, else ARSAMPaper) into ``out_dir``; the paths written."""
    os.makedirs(out_dir, exist_ok=True)
    written = [plot_accuracy(runs, metric, os.path.join(out_dir, ACCURACY_PLOT))]
    trained = {run["optimizer"] for run in runs}
    arsam = next((n for n in ("ARSAM", "ARSAMPaper") if n in trained), "ARSAM")
    telemetry = plot_telemetry(runs, arsam, os.path.join(out_dir, TELEMETRY_PLOT))
    if telemetry:
        written.append(telemetry)
    return written
