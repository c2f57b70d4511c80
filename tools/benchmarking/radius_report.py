"""The radius choice's table and its robustness figures: accuracy against radius, every method."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from .tables import column, markdown_table, write_json, write_text

# ARSAM, SAM and the one-pass peer stand out; the other methods are thin coloured lines.
_HIGHLIGHTED = {
    "ARSAM": dict(color="black", linewidth=2.5),
    "SAM": dict(color="grey", linewidth=2.5),
    "MomentumSAM": dict(color="tab:red", linewidth=2.0, linestyle="--"),
}


def markdown(choice: Mapping[str, Any]) -> str:
    """One row per (workload, horizon, method): the chosen radius and the grid's accuracies."""
    rows = []
    for cell in choice["cells"]:
        grid = ", ".join(f"{rho:g}: {acc:.1f}" for rho, acc in cell["points"])
        rows.append(
            {
                **cell,
                "chosen": f"{cell['rho']:g}" + (" (grid edge)" if cell["at_edge"] else ""),
                "ratio": f"{cell['rho'] / cell['sam_radius']:g}",
                "grid": grid,
                "selection": f"{cell['selected_at']} ({cell['selection_steps']} steps)",
            }
        )
    seeds = ", ".join(str(s) for s in choice["seeds"])
    return f"Selection seeds {seeds}; mean test accuracy (%) at each radius.\n\n" + markdown_table(
        [
            column("Workload", "workload"),
            column("Horizon", "horizon"),
            column("Selected on", "selection"),
            column("Method", "method"),
            column("Chosen rho", "chosen"),
            column("/ SAM's radius", "ratio"),
            column("rho: accuracy over the grid", "grid"),
        ],
        rows,
    )


def robustness_figure(choice: Mapping[str, Any], workload: str) -> Any:
    """One panel per horizon of ``workload``: accuracy against rho / SAM's radius, per method."""
    cells = [c for c in choice["cells"] if c["workload"] == workload]
    horizons = list(dict.fromkeys(c["horizon"] for c in cells))
    methods = sorted({c["method"] for c in cells})
    others = [m for m in methods if m not in _HIGHLIGHTED]
    palette = [plt.cm.tab10(i) for i in (0, 1, 2, 4, 5, 6, 8, 9)]  # no red or grey
    styles = {m: dict(color=palette[i % 8], linewidth=1.0) for i, m in enumerate(others)}
    styles.update({m: s for m, s in _HIGHLIGHTED.items() if m in methods})
    figure, axes = plt.subplots(1, len(horizons), figsize=(5 * len(horizons), 4), squeeze=False)
    for ax, horizon in zip(axes.flat, horizons, strict=True):
        for cell in (c for c in cells if c["horizon"] == horizon):
            ratios = [rho / cell["sam_radius"] for rho, _ in cell["points"]]
            accuracy = [acc for _, acc in cell["points"]]
            ax.plot(ratios, accuracy, marker="o", markersize=4, **styles[cell["method"]])
        first = next(c for c in cells if c["horizon"] == horizon)
        ax.set_xscale("log", base=2)
        ax.set_title(
            f"{workload}, {horizon} (selected on {first['selection_steps']} steps)", fontsize=10
        )
        ax.set_xlabel("rho / SAM's radius for the cell")
        ax.set_ylabel("test accuracy (%), selection seeds")
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], marker="o", label=m, **styles[m]) for m in methods]
    figure.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), frameon=False)
    figure.tight_layout(rect=(0, 0.12, 1, 1))
    return figure


def write_radius_report(choice: Mapping[str, Any], out_dir: str) -> dict[str, str]:
    """radius_choice.md, radius_choice.json and one robustness PNG per workload."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {
        "report": os.path.join(out_dir, "radius_choice.md"),
        "choice": os.path.join(out_dir, "radius_choice.json"),
    }
    write_text(paths["report"], markdown(choice))
    write_json(paths["choice"], choice)
    for workload in dict.fromkeys(c["workload"] for c in choice["cells"]):
        path = os.path.join(out_dir, f"radius_{workload}.png")
        figure = robustness_figure(choice, workload)
        figure.savefig(path, dpi=100)
        plt.close(figure)
        paths[workload] = path
    return paths
