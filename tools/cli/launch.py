"""The launch options that tools/train.py and tools/test.py share."""

from __future__ import annotations

import argparse
import os

from mmengine.config import DictAction

from core.mmengine_adapter.distributed import LAUNCHERS

from .errors import DEBUG_VARIABLE


def add_launch_arguments(parser: argparse.ArgumentParser) -> None:
    """The options tools/train.py and tools/test.py share: overrides and the launcher."""
    parser.add_argument(
        "--cfg-options", nargs="+", action=DictAction, help="override config entries: key=value"
    )
    parser.add_argument(
        "--launcher",
        choices=LAUNCHERS,
        default="none",
        help="how the processes were started: none (one process), pytorch (torchrun, "
        "tools/dist_train.sh), slurm (srun, tools/slurm_train.sh) or mpi (Open MPI's mpirun)",
    )
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0)
    parser.add_argument(
        "--debug",
        action="store_true",
        help=f"show full tracebacks instead of one-paragraph errors (or set {DEBUG_VARIABLE}=1)",
    )


def parse_launch_arguments(
    parser: argparse.ArgumentParser, argv: list[str] | None
) -> argparse.Namespace:
    """Parse ``argv`` and, for a distributed launcher, export the local rank as MMEngine expects."""
    args = parser.parse_args(argv)
    # Only launched runs: a LOCAL_RANK left in the environment of a single process makes
    # libraries called later in it (Hugging Face's Trainer, ...) believe they are distributed.
    if args.launcher != "none":
        os.environ.setdefault("LOCAL_RANK", str(args.local_rank))
    if args.debug:
        os.environ[DEBUG_VARIABLE] = "1"
    return args
