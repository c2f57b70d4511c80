"""Compare the optimizers' accuracy against their cost.

python tools/compare.py --suite [--quick]   the evidence suite: every workload x optimizer x seed x
                                           horizon in plain PyTorch loops (docs/benchmarks.md)
python tools/compare.py [options]          one classification config through tools/train.py, with
                                           each optimizer and seed
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from dataclasses import asdict

from mmengine.config import DictAction

from arsam.tasks.evidence.compared import OptimizerSpec, optimizer_spec, suite_optimizers
from arsam.tools.benchmarking.arguments import json_object
from arsam.tools.benchmarking.compare_report import compare_markdown, write_compare
from arsam.tools.benchmarking.comparison import (
    DEFAULT_PREFIX,
    CompareSettings,
    run_all,
    summarize_optimizers,
)
from arsam.tools.benchmarking.plots import write_plots
from arsam.tools.cli import UserError

DEFAULT_OUT = "work_dirs/compare"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--config-prefix",
        default=DEFAULT_PREFIX,
        help="configs <prefix>_sgd.py (or _adam.py, _adamw.py: the base run), <prefix>_sam.py, "
        "<prefix>_arsam.py (peers use _sam.py)",
    )
    parser.add_argument(
        "--optimizers",
        nargs="+",
        default=None,
        help="names, space- or comma-separated: 'base' (the base optimizer alone) and registered "
        "methods (default: all; --suite --quick: base, SAM, ARSAMPaper, ARSAM)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--label-noise", type=float, default=0.0, help="share of training labels flipped"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="configs: 1 epoch, first seed only; --suite: the 1k horizon and the main optimizers",
    )
    parser.add_argument(
        "--suite",
        action="store_true",
        help="run the evidence suite (tasks/evidence) instead of one config",
    )
    parser.add_argument("--workloads", nargs="+", default=None, help="--suite: workload names")
    parser.add_argument("--horizons", nargs="+", default=None, help="--suite: 1k, 10k, 50k")
    parser.add_argument("--workers", type=int, default=2, help="--suite: worker processes")
    parser.add_argument(
        "--estimate",
        action="store_true",
        help="--suite: time a short run of each model and optimizer, print the projected wall "
        "time of the suite on --workers idle cores, and train nothing",
    )
    parser.add_argument(
        "--choose-radius",
        action="store_true",
        help="--suite: run each method over its radius grid on the selection seeds and write "
        "the choice and the robustness figures (the rule: tasks/evidence/radius.py); trains no "
        "reported run",
    )
    parser.add_argument("--out", default=DEFAULT_OUT, help="output folder")
    parser.add_argument(
        "--cfg-options", nargs="+", action=DictAction, default={}, help="key=value for every run"
    )
    parser.add_argument(
        "--optimizer-options",
        type=json_object,
        default={},
        help='per-optimizer keyword arguments, JSON: \'{"SAMK": {"k": 2}}\' (with --suite: '
        "the records' labels stay the method's names, so give such runs their own --out)",
    )
    parser.add_argument("--metric", default="accuracy/top1", help="validation metric key")
    parser.add_argument(
        "--skip-existing", action="store_true", help="reuse runs that already finished"
    )
    return parser.parse_args(argv)


def optimizer_names(args: argparse.Namespace) -> list[str] | None:
    """The names given to --optimizers, split at commas; None when none were given."""
    if args.optimizers is None:
        return None
    return [n.strip() for item in args.optimizers for n in item.split(",") if n.strip()]


def settings_from(args: argparse.Namespace) -> CompareSettings:
    """CompareSettings from the parsed command line."""
    names = optimizer_names(args)
    return CompareSettings(
        config_prefix=args.config_prefix,
        optimizers=list(suite_optimizers()) if names is None else names,
        seeds=list(args.seeds),
        label_noise=args.label_noise,
        quick=args.quick,
        out=args.out,
        cfg_options=dict(args.cfg_options or {}),
        optimizer_options=args.optimizer_options,
        metric=args.metric,
        skip_existing=args.skip_existing,
    )


def run_suite_from(args: argparse.Namespace) -> int:
    """The evidence suite: train what ``--out`` lacks, then write its report, plot, telemetry."""
    from arsam.tasks.evidence import (
        HORIZON_NAMES,
        QUICK_HORIZONS,
        QUICK_OPTIMIZERS,
        WORKLOADS,
        check_names,
        get_workload,
        run_suite,
        suite_optimizers,
    )
    from arsam.tasks.evidence.estimate import estimate_suite
    from arsam.tools.benchmarking.suite_report import markdown, write_suite_report

    names = optimizer_names(args)
    if names is None:
        names = list(QUICK_OPTIMIZERS if args.quick else suite_optimizers())
    out = args.out if args.out != DEFAULT_OUT else "work_dirs/suite"
    try:
        check_names(names)
        workloads = [get_workload(name) for name in (args.workloads or WORKLOADS)]
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    horizons = args.horizons or (QUICK_HORIZONS if args.quick else HORIZON_NAMES)
    if args.estimate:
        print_estimate(estimate_suite(workloads, names, len(args.seeds), horizons, args.workers))
        return 0
    if args.choose_radius:
        return choose_radius(workloads, names, horizons, args.workers, out)
    records = run_suite(
        workloads,
        [with_options(name, args.optimizer_options.get(name, {})) for name in names],
        list(args.seeds),
        horizons,
        workers=args.workers,
        out=os.path.join(out, "records.jsonl"),
        verbose=True,
    )
    paths = write_suite_report(records, out)
    print(markdown(records))
    print("written: " + ", ".join(paths.values()))
    return 0


def with_options(name: str, options: dict) -> OptimizerSpec:
    """The suite's spec of ``name`` (its default options) with ``options`` on top."""
    spec = optimizer_spec(name)
    return OptimizerSpec(spec.label, spec.name, {**spec.kwargs, **options})


def choose_radius(
    workloads: list, names: list[str], horizons: list[str], workers: int, out: str
) -> int:
    """Train each method over its radius grid on the selection seeds; write and print the choice."""
    from arsam.tasks.evidence import radius, run_suite
    from arsam.tools.benchmarking.radius_report import markdown, write_radius_report

    selection = [radius.selection_workload(w) for w in workloads]
    shared = {
        radius.selection_horizons(w)[h] for w in workloads for h in horizons if h in w.horizons
    }
    extended: dict[tuple[str, str, str], list[float]] = {}
    for _ in range(radius.EXTENSIONS + 1):
        records = run_suite(
            selection,
            lambda workload, horizon: radius.selection_specs(workload, horizon, names, extended),
            list(radius.SELECTION_SEEDS),
            [h for h in horizons if h in shared],
            workers=workers,
            out=os.path.join(out, "radius_records.jsonl"),
            verbose=True,
        )
        choice = radius.choose(records, workloads)
        added = False
        for cell in choice["cells"]:
            multiple = radius.extension(cell)
            if multiple is not None and cell["horizon"] == cell["selected_at"]:
                key = (cell["workload"], cell["horizon"], cell["method"])
                extended.setdefault(key, []).append(multiple)
                added = True
        if not added:
            break
    choice["cells"] = [c for c in choice["cells"] if c["horizon"] in horizons]
    paths = write_radius_report(choice, out)
    print(markdown(choice))
    print(f"record in tasks/evidence/radius.py: CHOSEN = {radius.chosen_table(choice)!r}")
    print("written: " + ", ".join(paths.values()))
    return 0


def print_estimate(estimate: dict) -> None:
    """Minutes per workload and horizon, then the projected wall time."""
    cells: dict[tuple[str, str], float] = {}
    for row in estimate["rows"]:
        key = (row["workload"], row["horizon"])
        cells[key] = cells.get(key, 0.0) + row["seconds"]
    print("| workload | horizon | CPU minutes, all optimizers and seeds |\n|---|---|---|")
    for (workload, horizon), seconds in cells.items():
        # three significant figures: a short cell on a fast machine is not printed as 0.0
        print(f"| {workload} | {horizon} | {seconds / 60:.3g} |")
    print(
        f"projected: {estimate['runs_seconds'] / 60:.1f} CPU minutes, "
        f"{estimate['wall_seconds'] / 60:.1f} minutes of wall time on the workers"
    )


def main(argv: list[str] | None = None) -> int:
    """Train, then write compare.md, compare.json and the PNG figures."""
    args = parse_args(argv)
    if args.suite:
        return run_suite_from(args)
    settings = settings_from(args)
    try:
        if not 0.0 <= settings.label_noise < 1.0:
            raise UserError(f"--label-noise must lie in [0, 1), got {settings.label_noise}")
        runs = run_all(settings)
    except (UserError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    seeds = sorted({run["seed"] for run in runs})
    result = {
        "settings": asdict(settings),
        "seeds": seeds,
        "summary": summarize_optimizers(runs),
        "runs": runs,
    }
    result["plots"] = write_plots(runs, settings.metric, settings.out)
    markdown, json_path = write_compare(result, settings.out)
    print(compare_markdown(result))
    print("written: " + ", ".join([markdown, json_path, *result["plots"]]))
    return 0


def _unwind_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C: the worker pool is terminated, not left running."""
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _unwind_on_sigterm)
    sys.exit(main())
