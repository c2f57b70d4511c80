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
``accuracy`` (tools/compare.py on procedurally generated CIFAR-sized images). The parts,
their sizes and the report live in ``tools/benchmarking/gpu_check/``.
"""

from __future__ import annotations

import argparse
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tools.benchmarking.gpu_check.parts import PARTS  # noqa: E402
from tools.benchmarking.gpu_check.runner import run_check  # noqa: E402
from tools.benchmarking.gpu_check.settings import (  # noqa: E402
    DEFAULT_OUT,
    GPU_BUDGET_S,
    TINY_BUDGET_S,
    TINY_ENV,
    TRAIN_RUNS,
)


def parse_parts(value: str) -> list[str]:
    """Comma-separated part names, checked."""
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in PARTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown part(s) {unknown}; choose from {list(PARTS)}")
    return names


def parse_runs(value: str) -> list[str]:
    """Comma-separated training runs (base, sam, arsam), checked."""
    runs = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in runs if n not in TRAIN_RUNS]
    if unknown or not runs:
        raise argparse.ArgumentTypeError(f"unknown run(s) {unknown}; choose from {TRAIN_RUNS}")
    return [n for n in TRAIN_RUNS if n in runs]


def default_device(tiny: bool) -> str:
    """cuda when torch sees one (and the run is not tiny), else cpu."""
    if tiny:
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder of report.md and report.json")
    parser.add_argument("--parts", type=parse_parts, default=list(PARTS), help=",".join(PARTS))
    parser.add_argument("--tiny", action="store_true", help="tiny sizes on the CPU (smoke run)")
    parser.add_argument(
        "--train-optimizers",
        type=parse_runs,
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
    args.device = args.device or default_device(args.tiny)
    if args.tiny:
        os.environ[TINY_ENV] = "1"
    if args.budget is None:
        args.budget = TINY_BUDGET_S if args.tiny else GPU_BUDGET_S
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the parts (or, in a child, one part) and write the report."""
    return run_check(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
