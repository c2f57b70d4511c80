"""Time the base run (SGD), SAM, ARSAM and the peers step by step: python tools/benchmark.py."""

from __future__ import annotations

import argparse
import sys

import torch

from arsam.tasks.evidence.compared import suite_optimizers
from arsam.tools.benchmarking.arguments import json_object
from arsam.tools.benchmarking.cost import (
    PRECISIONS,
    BenchmarkSettings,
    run_benchmark,
    run_sharded_collectives,
)
from arsam.tools.benchmarking.cost_report import (
    benchmark_markdown,
    sharded_markdown,
    write_benchmark,
    write_sharded,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="CifarResNet", help="registered backbone name")
    parser.add_argument(
        "--model-kwargs", type=json_object, default={}, help="JSON, e.g. '{\"depth\": 16}'"
    )
    parser.add_argument("--input-shape", type=int, nargs="+", help="C H W (default 3 32 32)")
    parser.add_argument("--num-classes", type=int, help="default: model's num_classes or 10")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=100, help="timed steps per optimizer")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first")
    parser.add_argument(
        "--optimizers",
        default=",".join(suite_optimizers()),
        help=f"comma-separated, from {','.join(suite_optimizers())} (base: SGD alone)",
    )
    parser.add_argument(
        "--device", choices=["cpu", "cuda"], help="default: cuda when available, else cpu"
    )
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight-decay", type=float, default=1e-3)
    parser.add_argument("--rho", type=float, default=0.05)
    parser.add_argument("--arsam-window", type=int, default=10, help="ARSAMPaper's window K")
    parser.add_argument("--arsam-warmup", type=int, default=0, help="ARSAMPaper's warm-up steps")
    parser.add_argument(
        "--optimizer-options",
        type=json_object,
        default={},
        help='per-optimizer keyword arguments, JSON: \'{"SAMK": {"k": 2}}\'',
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="fp32; bf16 autocast; fp16 autocast with a GradScaler per optimizer",
    )
    parser.add_argument(
        "--channels-last",
        action="store_true",
        help="models and inputs in the channels_last (NHWC) memory format",
    )
    parser.add_argument("--num-batches", type=int, default=8, help="distinct batches, cycled")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--check-sync",
        action="store_true",
        help="after timing, run more steps with CUDA's sync debug mode set to 'error'",
    )
    parser.add_argument("--sync-check-steps", type=int, help="default: 3 ARSAM windows")
    parser.add_argument(
        "--sharded",
        type=int,
        metavar="WORLD",
        help="instead of timing: count the collectives per step under FSDP2 on WORLD gloo CPU "
        "processes, FSDP's own against the optimizer's",
    )
    parser.add_argument("--out", default="work_dirs/benchmark", help="output folder")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> BenchmarkSettings:
    """BenchmarkSettings from the parsed command line."""
    kwargs = dict(args.model_kwargs)
    shape = tuple(args.input_shape or (kwargs.get("in_channels", 3), 32, 32))
    check_steps = 0
    if args.check_sync:
        check_steps = args.sync_check_steps or 3 * args.arsam_window
    return BenchmarkSettings(
        model=args.model,
        model_kwargs=kwargs,
        input_shape=shape,
        num_classes=args.num_classes or kwargs.get("num_classes", 10),
        batch_size=args.batch_size,
        steps=args.steps,
        warmup=args.warmup,
        optimizers=[name.strip() for name in args.optimizers.split(",") if name.strip()],
        device=args.device or ("cuda" if torch.cuda.is_available() else "cpu"),
        lr=args.lr,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        rho=args.rho,
        arsam_window=args.arsam_window,
        arsam_warmup=args.arsam_warmup,
        options=args.optimizer_options,
        num_batches=args.num_batches,
        seed=args.seed,
        sync_check_steps=check_steps,
        precision=args.precision,
        channels_last=args.channels_last,
    )


def print_progress(line: str) -> None:
    """One progress line on stderr (stdout keeps the table)."""
    print(f"benchmark: {line}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write benchmark.md and benchmark.json."""
    args = parse_args(argv)
    try:
        settings = settings_from(args)
        if args.sharded is not None:
            result = run_sharded_collectives(settings, args.sharded)
        else:
            result = run_benchmark(settings, progress=print_progress)
    except (KeyError, TypeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.sharded is not None:
        markdown, json_path = write_sharded(result, args.out)
        print(sharded_markdown(result))
        print(f"written: {markdown}, {json_path}")
        return 0
    markdown, json_path = write_benchmark(result, args.out)
    print(benchmark_markdown(result))
    print(f"written: {markdown}, {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
