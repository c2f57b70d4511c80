"""What tools/train.py and tools/test.py do: config loading, user-facing errors, running.

Mistakes a user makes (a wrong config path, an unknown optimizer, a missing
dataset) become a ``UserError`` with one paragraph that says what to do; the
tools print it instead of a stack trace.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import os
import os.path as osp
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import OPTIMIZERS
from mmengine.runner import Runner

from .distributed import prepare_cpu_distributed
from .optimizers import TWO_PASS_OPTIMIZERS

_RUN_NUMBERS = itertools.count()


class UserError(Exception):
    """A problem with the user's input, explained in one paragraph."""


def load_config(
    path: str,
    *,
    work_dir: str | None = None,
    resume: str | None = None,
    amp: bool = False,
    cfg_options: dict | None = None,
    launcher: str = "none",
) -> Config:
    """The config at ``path`` with the command line's choices applied."""
    if not osp.isfile(path):
        raise UserError(
            f"config file {path!r} not found. Configs live under configs/<task>/, for example "
            "configs/classification/digits_arsam.py or configs/pose/hrnet_arsam.py; run from "
            "the repository root or give the full path."
        )
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get("work_dir") is None:
        cfg.work_dir = osp.join("work_dirs", osp.splitext(osp.basename(path))[0])
    if resume == "auto":
        cfg.resume, cfg.load_from = True, None
    elif resume is not None:
        cfg.resume, cfg.load_from = True, resume
    if amp:
        enable_amp(cfg)
    check_optimizer(cfg)
    return cfg


def enable_amp(cfg: Config) -> None:
    """Mixed precision: fp16 with a loss scaler on CUDA, bf16 on the CPU (SAM-family only)."""
    wrapper = cfg.optim_wrapper
    kind = wrapper.get("type", "OptimWrapper")
    if kind == "SAMOptimWrapper":
        wrapper.dtype = "float16" if torch.cuda.is_available() else "bfloat16"
        wrapper.setdefault("loss_scale", "dynamic")
    elif kind == "OptimWrapper" and torch.cuda.is_available():
        wrapper.type = "AmpOptimWrapper"
        wrapper.setdefault("loss_scale", "dynamic")
    elif kind == "OptimWrapper":
        raise UserError(
            "--amp without CUDA: MMEngine's AmpOptimWrapper needs a GPU. On the CPU, SAM and "
            "ARSAM configs train in bfloat16 with --amp; plain configs train in float32."
        )


def check_optimizer(cfg: Config) -> None:
    """Raise UserError unless the config's optimizer and base optimizer are registered."""
    optimizer = (cfg.get("optim_wrapper") or {}).get("optimizer") or {}
    name = optimizer.get("type")
    if name is None:
        return
    if isinstance(name, str) and OPTIMIZERS.get(name) is None:
        raise UserError(
            f"unknown optimizer {name!r} in optim_wrapper.optimizer. Two-pass optimizers: "
            f"{', '.join(sorted(TWO_PASS_OPTIMIZERS))} (with optim_wrapper type "
            "'SAMOptimWrapper' and constructor 'SAMOptimWrapperConstructor', and "
            "'core.mmengine_adapter' in custom_imports); any torch optimizer such as 'SGD' or "
            "'Adam' with type 'OptimWrapper'."
        )
    if optimizer.get("warmup_epochs") is not None and not _epoch_based(cfg.get("train_cfg")):
        raise UserError(
            "warmup_epochs needs an epoch-based train loop (train_cfg=dict(by_epoch=True, "
            "max_epochs=...)); with an iteration-based loop give warmup_steps instead."
        )
    if name in TWO_PASS_OPTIMIZERS:
        base = optimizer.get("base_optimizer")
        base_name = base.get("type") if isinstance(base, dict) else base
        if not isinstance(base_name, str) or OPTIMIZERS.get(base_name) is None:
            raise UserError(
                f"{name} needs base_optimizer=dict(type=<a torch optimizer such as 'SGD' or "
                f"'Adam'>, lr=...), got {base!r}."
            )


def _epoch_based(train_cfg: dict | None) -> bool:
    if not train_cfg:
        return False
    kind = train_cfg.get("type")
    if kind is not None:
        return "Epoch" in str(kind)
    return bool(train_cfg.get("by_epoch", False))


def run_preflight_checks(cfg: Config, stage: str = "train") -> None:
    """Call ``preflight(cfg, stage=...)`` of every task package the config imports, if any."""
    for name in (cfg.get("custom_imports") or {}).get("imports", []):
        module = sys.modules.get(name) or importlib.import_module(name)
        check: Callable[..., None] | None = getattr(module, "preflight", None)
        if check is not None:
            check(cfg, stage=stage)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors a user can fix into UserError, with the original message."""
    try:
        yield
    except FileNotFoundError as error:
        raise UserError(str(error)) from error
    except KeyError as error:
        message = str(error.args[0]) if error.args else str(error)
        if "registry" in message:
            raise UserError(
                f"{message.strip()} Check the 'type' names in the config and that "
                "custom_imports lists the task package that registers them."
            ) from error
        raise


def build_runner(cfg: Config) -> Runner:
    """A Runner for ``cfg``, with CPU distributed support and a process-unique experiment name.

    MMEngine keeps one logger and one visualizer per experiment name, and its default name
    has a resolution of one second: two runs started in the same second in one process
    (tests, tools/compare.py) would otherwise write their logs into the first run's folder.
    """
    prepare_cpu_distributed(cfg)
    if cfg.get("experiment_name") is None:
        stem = osp.splitext(osp.basename(cfg.filename or "run"))[0]
        cfg.experiment_name = f"{stem}_{time.strftime('%Y%m%d_%H%M%S')}_{next(_RUN_NUMBERS)}"
    return Runner.from_cfg(cfg)


def train(cfg: Config) -> Runner:
    """Train as configured; print where the logs and the last checkpoint are."""
    with user_errors():
        run_preflight_checks(cfg)
        runner = build_runner(cfg)
        runner.train()
    report_outputs(runner)
    return runner


def test(cfg: Config, checkpoint: str) -> dict[str, Any]:
    """Evaluate ``checkpoint`` on the config's test split; returns the metrics."""
    if not osp.isfile(checkpoint):
        raise UserError(f"checkpoint {checkpoint!r} not found; give the path of a .pth file.")
    cfg.load_from = checkpoint
    with user_errors():
        run_preflight_checks(cfg, stage="test")
        runner = build_runner(cfg)
        return runner.test()


def report_outputs(runner: Runner) -> None:
    """Print the work directory, the log directory and the last checkpoint (rank 0)."""
    if runner.rank != 0:
        return
    pointer = osp.join(runner.work_dir, "last_checkpoint")
    last = "none written"
    if osp.isfile(pointer):
        with open(pointer) as f:
            last = f.read().strip()
    print(f"logs: {runner.log_dir}\nlast checkpoint: {last}", flush=True)


def add_launch_arguments(parser: argparse.ArgumentParser) -> None:
    """The options tools/train.py and tools/test.py share: overrides and the launcher."""
    parser.add_argument(
        "--cfg-options", nargs="+", action=DictAction, help="override config entries: key=value"
    )
    parser.add_argument("--launcher", choices=["none", "pytorch"], default="none")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0)


def parse_launch_arguments(
    parser: argparse.ArgumentParser, argv: list[str] | None
) -> argparse.Namespace:
    """Parse ``argv`` and export the local rank as torchrun and MMEngine expect it."""
    args = parser.parse_args(argv)
    os.environ.setdefault("LOCAL_RANK", str(args.local_rank))
    return args


def main(run: Callable[[], Any]) -> int:
    """Run ``run``; print a UserError's paragraph and return 2 instead of a traceback."""
    try:
        run()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


__all__ = [
    "UserError",
    "add_launch_arguments",
    "build_runner",
    "check_optimizer",
    "enable_amp",
    "load_config",
    "main",
    "parse_launch_arguments",
    "report_outputs",
    "run_preflight_checks",
    "test",
    "train",
    "user_errors",
]
