"""One prepared GPU check: sync-free steps, step cost, pose, quantization, accuracy against time.

    python tools/reproduce/gpu_check.py [--out work_dirs/gpu_check] [--parts a,b] [--tiny]

Needs no internet and no datasets: every input is generated. Each part runs in its own
subprocess under its own time limit (all of them within ``--budget`` seconds, 8 minutes by
default); a part that fails or runs out is recorded with the last lines of its log, and the
next part runs. ``report.md`` and ``report.json`` under ``--out`` are rewritten after every
part. ``--tiny`` runs the same parts on the CPU at tiny sizes (a few minutes), so that the
script is exercised by the tests.

Parts: ``sync`` (CUDA's sync debug mode around every step of every two-pass method),
``cost_resnet18`` and ``cost_wrn28_10`` (tools/benchmarking/cost.py in fp32, bf16 autocast
and fp16 with a GradScaler), ``pose`` (HRNet-W32 through tools/train.py on generated COCO
data), ``quantization`` (W4A4 ResNet-18 through tools/train.py on fake CIFAR files) and
``accuracy`` (tools/compare.py on procedurally generated CIFAR-sized images). The sizes live
in ``tools/benchmarking/gpu_check/settings.py``, the parts in ``parts.py``, the report in
``report.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from arsam.tools.benchmarking.device import environment  # noqa: E402
from arsam.tools.benchmarking.gpu_check.parts import (  # noqa: E402
    MIN_PART_S,
    PARTS,
    run_part,
    run_part_here,
)
from arsam.tools.benchmarking.gpu_check.report import write_report  # noqa: E402
from arsam.tools.benchmarking.gpu_check.settings import (  # noqa: E402
    DEFAULT_OUT,
    GPU_BUDGET_S,
    SCRIPT,
    TINY_BUDGET_S,
    TINY_ENV,
    TRAIN_RUNS,
    scale_for,
)


def names_of(allowed: tuple[str, ...] | list[str]) -> Callable[[str], list[str]]:
    """A parser of comma-separated names out of ``allowed``, returned in ``allowed``'s order."""

    def parse(value: str) -> list[str]:
        names = [n.strip() for n in value.split(",") if n.strip()]
        unknown = [n for n in names if n not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {list(allowed)}")
        return [n for n in allowed if n in names]

    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder of report.md and report.json")
    parser.add_argument(
        "--parts", type=names_of(list(PARTS)), default=list(PARTS), help=",".join(PARTS)
    )
    parser.add_argument("--tiny", action="store_true", help="tiny sizes on the CPU (smoke run)")
    parser.add_argument(
        "--train-optimizers",
        type=names_of(TRAIN_RUNS),
        default=list(TRAIN_RUNS),
        help="runs of the pose, quantization and accuracy parts: base (Adam/SGD), sam, arsam",
    )
    parser.add_argument("--device", help="cuda or cpu (default: cuda if available; tiny: cpu)")
    parser.add_argument("--budget", type=float, help="seconds for all parts (default 480)")
    parser.add_argument("--run-part", choices=list(PARTS), help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=60.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    args.out = os.path.abspath(args.out)
    if args.device is None:
        import torch

        args.device = "cuda" if not args.tiny and torch.cuda.is_available() else "cpu"
    if args.tiny:
        os.environ[TINY_ENV] = "1"
    if args.budget is None:
        args.budget = TINY_BUDGET_S if args.tiny else GPU_BUDGET_S
    return args


def run_parts(args: argparse.Namespace) -> dict:
    """Run the selected parts one after the other within the budget, rewriting the report."""
    start, limits = time.monotonic(), scale_for(args.tiny).limits
    report = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": " ".join([os.path.relpath(SCRIPT, REPO), *args.argv]),
        "tiny": args.tiny,
        "budget_s": args.budget,
        "environment": environment(args.device),
        "parts": {},
    }
    for name in args.parts:
        limit = min(limits[name], args.budget - (time.monotonic() - start))
        if limit < MIN_PART_S:
            report["parts"][name] = {"title": PARTS[name][0], "status": "skipped (no time left)"}
        else:
            print(f"== {name} (limit {limit:.0f} s)", flush=True)
            report["parts"][name] = run_part(name, args, limit)
            print(f"   {report['parts'][name]['status']}", flush=True)
        report["wall_s"] = time.monotonic() - start
        write_report(report, args.out)
    return report


def main(argv: list[str] | None = None) -> int:
    """Run the parts (or, in a child, one part) and write the report."""
    args = parse_args(argv)
    if args.run_part:
        return run_part_here(args)
    os.makedirs(args.out, exist_ok=True)
    report = run_parts(args)
    markdown, json_path = write_report(report, args.out)
    print(f"written: {markdown}, {json_path} ({report.get('wall_s', 0.0):.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
