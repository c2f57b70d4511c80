"""ARSAM's telemetry of trained work dirs in one figure: quota, SAM fraction, PSF ratio, rho, lr.

python tools/analysis_tools/plot_telemetry.py WORK_DIR [WORK_DIR ...] [--out FILE.png]
"""

from __future__ import annotations

import argparse
import os.path as osp
import sys
import warnings
from typing import Any

# mmengine imports pkg_resources, which warns on every start; nothing for a user to act on.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

import matplotlib.pyplot as plt  # noqa: E402

from arsam.tools.analysis_tools.figures import check_figure_path, save_figure  # noqa: E402
from arsam.tools.analysis_tools.work_dir_logs import (  # noqa: E402
    is_training_record,
    logged_keys,
    read_records,
    run_name,
    series,
)
from arsam.tools.benchmarking.plots import local_fraction  # noqa: E402
from arsam.tools.cli.errors import UserError, main  # noqa: E402

PANELS = (
    ("quota", "quota b (SAM steps per window)"),
    ("sam_fraction", "SAM fraction"),
    ("psf_ratio", "PSF ratio ||PSF||_S / ||g||_S"),
    ("rho", "rho (perturbation radius)"),
    ("lr", "learning rate"),
)
DEFAULT_NAME = "arsam_telemetry.png"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description="Plot ARSAM's logged quota, SAM fraction, PSF ratio, rho and lr."
    )
    parser.add_argument("work_dirs", nargs="+", help="work dirs of runs trained with ARSAM")
    parser.add_argument("--legend", nargs="+", help="one label per work dir")
    parser.add_argument("--title", help="title of the figure")
    parser.add_argument("--out", help=f"image file (default: <first work dir>/{DEFAULT_NAME})")
    return parser.parse_args(argv)


def telemetry(work_dir: str) -> dict[str, tuple[list[float], list[float]]]:
    """Per panel key (and grad_evals), the training iterations and logged values."""
    records = [r for r in read_records(work_dir) if is_training_record(r)]
    if not any("quota" in r for r in records):
        held = [k for k in ("sam_fraction", "grad_evals") if any(k in r for r in records)]
        what = (
            f"it holds {' and '.join(held)} (a SAM-family optimizer without ARSAM's schedule)"
            if held
            else "it was trained with a one-pass optimizer or logged no training iteration"
        )
        raise UserError(
            f"{work_dir!r} holds no ARSAM telemetry: none of its {len(records)} training records "
            f"has 'quota', ARSAM's number of SAM steps per window; {what}. Give the work dir of "
            "a run trained with an ARSAM config (configs/<task>/*_arsam.py); any other logged "
            "key plots with tools/analysis_tools/analyze_logs.py plot_curve WORK_DIR --keys KEY "
            f"(this one logged {', '.join(logged_keys(records)) or 'nothing'})."
        )
    keys = [key for key, _ in PANELS] + ["grad_evals"]
    return {key: series(records, key) for key in keys}


def plot(runs: dict[str, dict[str, tuple[list[float], list[float]]]], title: str | None) -> Any:
    """The figure: one panel per telemetry key, one line per run."""
    figure, axes = plt.subplots(2, 3, figsize=(15, 8))
    panels = dict(zip((key for key, _ in PANELS), axes.flat, strict=False))
    for label, data in runs.items():
        for key, axis in panels.items():
            xs, ys = data[key]
            if not xs:
                continue
            style = "steps-post" if key == "quota" else "default"
            marker = "o" if len(xs) <= 30 else None
            (line,) = axis.plot(
                xs, ys, drawstyle=style, label=label, linewidth=1, marker=marker, markersize=3
            )
            if key == "sam_fraction":
                pairs = list(zip(*data["grad_evals"], strict=True))
                steps, fraction = local_fraction(pairs)
                if steps.size:
                    axis.plot(
                        steps,
                        fraction,
                        linestyle=":",
                        color=line.get_color(),
                        label=f"{label}, per log interval",
                    )
    for (key, heading), axis in zip(PANELS, axes.flat, strict=False):
        axis.set_title(heading)
        axis.set_xlabel("iteration")
        axis.grid(alpha=0.3)
        if axis.lines:
            axis.legend(fontsize=7)
        if key == "sam_fraction":
            axis.set_ylim(-0.05, 1.05)
    axes.flat[-1].axis("off")
    figure.suptitle(title or "ARSAM telemetry (vis_data/scalars.json)")
    figure.tight_layout()
    return figure


def run(argv: list[str] | None = None) -> str:
    """Read each work dir's telemetry and write the figure; returns its path."""
    args = parse_args(argv)
    out = args.out or osp.join(args.work_dirs[0], DEFAULT_NAME)
    check_figure_path(out)
    labels = args.legend or [run_name(path) for path in args.work_dirs]
    if len(labels) != len(args.work_dirs):
        raise UserError(
            f"--legend gives {len(labels)} labels for {len(args.work_dirs)} work dirs; give one "
            "per work dir, in order, or leave --legend out."
        )
    runs = {label: telemetry(path) for label, path in zip(labels, args.work_dirs, strict=True)}
    path = save_figure(plot(runs, args.title), out)
    print(f"saved the telemetry of {len(runs)} run(s) to {path}")
    return path


if __name__ == "__main__":
    sys.exit(main(run))
