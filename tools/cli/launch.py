"""The launch options that tools/train.py and tools/test.py share."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any

from mmengine.config import DictAction

from arsam.core.training_infra.distributed import LAUNCHERS

from .errors import DEBUG_VARIABLE, UserError

_OVERRIDE_HELP = (
    "Each override is a dotted key path, '=' and a value, with no spaces around '=', for "
    "example --cfg-options train_cfg.max_epochs=20 optim_wrapper.optimizer.lr=0.05 "
    "(lists: key=[1,2]; quote a value that holds spaces)."
)


class ConfigOptionsAction(DictAction):
    """MMEngine's ``--cfg-options`` parsing, with one paragraph for a malformed override."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        """Add each KEY=VALUE of ``values`` to the overrides; UserError for one that is not."""
        for item in values or []:
            key, equals, value = item.partition("=")
            if not equals or "" in key.split("."):
                raise UserError(f"--cfg-options {item} is not KEY=VALUE. {_OVERRIDE_HELP}")
            try:
                super().__call__(parser, namespace, [item], option_string)
            except (AssertionError, RecursionError) as error:  # unbalanced brackets, dict(...)
                raise UserError(
                    f"--cfg-options {item}: the value {value!r} cannot be read: a value is a "
                    "number, true/false, None, a string, a list [a,b] or a tuple (a,b), with "
                    "balanced brackets; a dict(...) cannot be given, set its keys one by one "
                    f"(KEY.SUBKEY=VALUE). {_OVERRIDE_HELP}"
                ) from error


def add_launch_arguments(parser: argparse.ArgumentParser) -> None:
    """The options tools/train.py and tools/test.py share: overrides and the launcher."""
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        action=ConfigOptionsAction,
        help="override config entries: key=value",
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
