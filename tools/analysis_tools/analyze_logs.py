"""Plot logged values against iterations, or summarise iteration times (MMPose's analyze_logs).

    python tools/analysis_tools/analyze_logs.py plot_curve WORK_DIR [WORK_DIR ...] \\
        --keys loss sam_fraction --out curve.png
    python tools/analysis_tools/analyze_logs.py cal_train_time WORK_DIR [WORK_DIR ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import warnings
from collections import defaultdict
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
from arsam.tools.cli.errors import UserError, main  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: a task (plot_curve or cal_train_time) and its options."""
    parser = argparse.ArgumentParser(description="Analyse the values a training run logged.")
    tasks = parser.add_subparsers(dest="task", required=True, metavar="{plot_curve,cal_train_time}")
    plot = tasks.add_parser("plot_curve", help="plot logged keys against training iterations")
    plot.add_argument("logs", nargs="+", help="work dirs, or their <ts>/vis_data/scalars.json")
    plot.add_argument(
        "--keys", nargs="+", default=["loss"], help="logged keys, e.g. loss lr accuracy/top1"
    )
    plot.add_argument("--title", help="title of the figure")
    plot.add_argument("--legend", nargs="+", help="one label per log and key (log-major order)")
    plot.add_argument("--style", help="matplotlib style sheet, e.g. ggplot or seaborn-v0_8")
    plot.add_argument("--out", default="curve.png", help="image file (default curve.png)")
    plot.add_argument("--backend", help="matplotlib backend, e.g. Agg or pdf (default Agg)")
    timing = tasks.add_parser("cal_train_time", help="average time per training iteration")
    timing.add_argument("logs", nargs="+", help="work dirs, or their <ts>/vis_data/scalars.json")
    timing.add_argument(
        "--include-outliers",
        action="store_true",
        help="keep each epoch's first logged time (slower: data loading starts)",
    )
    return parser.parse_args(argv)


def plot_curve(logs: list[str], args: argparse.Namespace) -> str:
    """One figure with every key of every log against iterations; returns the file written."""
    check_figure_path(args.out)
    if args.backend is not None:
        try:
            plt.switch_backend(args.backend)
        except (ImportError, ValueError) as error:
            raise UserError(
                f"--backend {args.backend!r}: matplotlib cannot use it here ({error}). Give a "
                "backend that writes files, such as Agg, pdf, svg or cairo, or leave --backend out."
            ) from error
    labels = args.legend or [f"{run_name(log)}_{key}" for log in logs for key in args.keys]
    if len(labels) != len(logs) * len(args.keys):
        raise UserError(
            f"--legend gives {len(labels)} labels for {len(logs)} logs x {len(args.keys)} keys; "
            f"give {len(logs) * len(args.keys)} (log by log, the keys in order) or leave "
            "--legend out."
        )
    if args.style:
        if args.style not in plt.style.available:
            raise UserError(
                f"--style {args.style!r} is not a matplotlib style; pick one of "
                f"{', '.join(sorted(plt.style.available))}."
            )
        plt.style.use(args.style)
    kinds = list(dict.fromkeys(unit_of(key) for key in args.keys))
    figure, axes = plt.subplots(
        len(kinds), 1, figsize=(8, 3.2 * len(kinds) + 1.3), sharex=True, squeeze=False
    )
    axis_of = {kind: axes[index, 0] for index, kind in enumerate(kinds)}
    names = iter(labels)
    for log in logs:
        records = read_records(log)
        for key in args.keys:
            xs, ys = series(records, key)
            if not xs:
                raise UserError(
                    f"{log!r} logged no {key!r}. Its logs hold: {', '.join(logged_keys(records))}. "
                    "Pick --keys from those."
                )
            marker = "o" if len(xs) <= 50 else None
            axis = axis_of[unit_of(key)]
            axis.plot(xs, ys, label=next(names), linewidth=1, marker=marker, markersize=3)
    for kind, axis in axis_of.items():
        keys = [key for key in args.keys if unit_of(key) == kind]
        axis.set_ylabel(", ".join(keys) if kind in keys else f"{', '.join(keys)} ({kind})")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    axes[-1, 0].set_xlabel("iteration")
    if args.title:
        axes[0, 0].set_title(args.title)
    figure.tight_layout()
    return save_figure(figure, args.out)


def unit_of(key: str) -> str:
    """The unit a logged key is in, so that keys of one unit share an axis."""
    name = key.lower().rsplit("/", 1)[-1]
    if "acc" in name or name.startswith("top"):
        return "%"
    if "loss" in name:
        return "loss"
    if name in ("lr", "base_lr"):
        return "learning rate"
    if "time" in name:
        return "s"
    return key


def train_times(records: list[dict[str, Any]], include_outliers: bool) -> dict[int, list[float]]:
    """Per epoch (1 for iteration-based runs), the logged seconds per training iteration."""
    times: dict[int, list[float]] = defaultdict(list)
    for record in records:
        if is_training_record(record) and isinstance(record.get("time"), int | float):
            times[int(record.get("epoch", 1))].append(float(record["time"]))
    if not include_outliers:
        times = defaultdict(list, {e: t[1:] if len(t) > 1 else t for e, t in times.items()})
    return dict(times)


def cal_train_time(logs: list[str], args: argparse.Namespace) -> list[dict[str, float]]:
    """Print the slowest and fastest epoch and the mean time per iteration of each log."""
    summaries = []
    for log in logs:
        times = train_times(read_records(log), args.include_outliers)
        if not times:
            raise UserError(
                f"{log!r} logged no training iteration times ('time' of the training records); "
                "give a work dir of a run that trained at least one logger interval."
            )
        means = {epoch: statistics.fmean(values) for epoch, values in times.items()}
        slowest, fastest = max(means, key=means.get), min(means, key=means.get)
        overall = statistics.fmean(v for values in times.values() for v in values)
        spread = statistics.pstdev(means.values())
        print(f"-----Analyze train time of {log}-----")
        print(f"slowest epoch {slowest}, average time is {means[slowest]:.4f}")
        print(f"fastest epoch {fastest}, average time is {means[fastest]:.4f}")
        print(f"time std over epochs is {spread:.4f}")
        print(f"average iter time: {overall:.4f} s/iter\n")
        summaries.append({"slowest": slowest, "fastest": fastest, "mean_s": overall})
    return summaries


def run(argv: list[str] | None = None) -> Any:
    """Run the chosen task."""
    args = parse_args(argv)
    if args.task == "plot_curve":
        path = plot_curve(args.logs, args)
        print(f"saved the curves to {path}")
        return path
    return cal_train_time(args.logs, args)


if __name__ == "__main__":
    sys.exit(main(run))
