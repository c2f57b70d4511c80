"""The comparison's result as a Markdown page and a JSON file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .tables import Column, column, fixed, markdown_table, write_markdown_and_json


def mean_std(title: str, key: str, digits: int) -> Column:
    """A column printing ``<key>_mean ± <key>_std`` of a summary row."""

    def cell(row: Mapping[str, Any]) -> str:
        mean, std = row.get(f"{key}_mean"), row.get(f"{key}_std")
        if mean is None:
            return "-"
        return f"{mean:.{digits}f}" + ("" if std is None else f" ± {std:.{digits}f}")

    return title, cell


COLUMNS: tuple[Column, ...] = (
    column("Optimizer", "optimizer"),
    column("Seeds", "seeds"),
    mean_std("Final top-1 (%)", "final", 2),
    mean_std("Best top-1 (%)", "best", 2),
    mean_std("Fwd-bwd passes", "grad_evals", 0),
    mean_std("SAM fraction", "sam_fraction", 3),
    mean_std("Train time (s)", "train_time_s", 1),
    mean_std("Wall time (s)", "wall_time_s", 1),
    column("Train time / base", "time_vs_base", fixed(3)),
    column("Train time / SAM", "time_vs_sam", fixed(3)),
)


def compare_markdown(result: Mapping[str, Any]) -> str:
    """A short description of the comparison followed by the summary table."""
    settings = result["settings"]
    noise = settings["label_noise"]
    noise_line = (
        f"- symmetric label noise on the training labels: {noise:.0%}"
        if noise
        else "- no label noise"
    )
    lines = [
        "# Accuracy against cost",
        "",
        f"- configs: {settings['config_prefix']}_*.py"
        + (" (quick: 1 epoch, 1 seed)" if settings["quick"] else ""),
        f"- seeds: {', '.join(str(s) for s in result['seeds'])}; mean ± sample std over seeds",
        noise_line,
        f"- metric: {settings['metric']} on the validation split",
        "",
        markdown_table(COLUMNS, result["summary"]),
    ]
    return "\n".join(lines)


def write_compare(result: Mapping[str, Any], out_dir: str) -> tuple[str, str]:
    """Write ``compare.md`` and ``compare.json`` into ``out_dir``; returns their paths."""
    return write_markdown_and_json(out_dir, "compare", compare_markdown(result), result)
