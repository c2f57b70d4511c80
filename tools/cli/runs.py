"""Running a config: preflight checks of the task packages, the Runner, train and test."""

from __future__ import annotations

import importlib
import itertools
import logging
import os.path as osp
import sys
from collections.abc import Callable
from typing import Any

import mmengine
from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import FlexibleRunner, Runner

from arsam.core.training_infra.checkpoint_loading import is_remote
from arsam.core.training_infra.distributed import prepare_cpu_distributed
from arsam.core.training_infra.step_counts import run_step_counts

from .config_checks import check_config, check_work_dir
from .errors import UserError, user_errors
from .flexible_runner import (
    names_runner,
    prepare_flexible_config,
    prepare_flexible_test,
    prepare_flexible_training,
)
from .startup import check_start_checkpoint, prepare_training, resolve_resume
from .work_dir_lock import work_dir_lock

_RUN_NUMBERS = itertools.count()
RELIABILITY_HOOKS = ("RandomStateHook", "NonFiniteCheckHook", "ParameterRebindHook")


def run_preflight_checks(cfg: Config, stage: str = "train") -> None:
    """Call ``preflight(cfg, stage=...)`` of every task package the config imports, if any."""
    for name in (cfg.get("custom_imports") or {}).get("imports", []):
        module = sys.modules.get(name) or importlib.import_module(name)
        check: Callable[..., None] | None = getattr(module, "preflight", None)
        if check is not None:
            try:
                check(cfg, stage=stage)
            except ValueError as error:  # a preflight's ValueError is a paragraph for the user
                raise UserError(str(error)) from error


def build_runner(cfg: Config) -> Runner | FlexibleRunner:
    """The runner ``cfg`` names, with CPU distributed support and a process-unique experiment name.

    As in MMPose's tools: ``runner_type`` (e.g. ``'FlexibleRunner'`` with a ``strategy``) is
    built from the RUNNERS registry, otherwise MMEngine's Runner.

    MMEngine keeps one logger and one visualizer per experiment name, and its default name
    has a resolution of one second: two runs started in the same second in one process
    (tests, tools/compare.py) would otherwise write their logs into the first run's folder.
    MMEngine appends the timestamp itself; the second and later runs of a process add
    ``_run<n>`` before it (``digits_arsam_20261206_175021``, ``digits_arsam_run1_20261206_175021``).
    """
    prepare_cpu_distributed(cfg)
    add_reliability_hooks(cfg)
    if cfg.get("experiment_name") is None:
        cfg.experiment_name = experiment_name(cfg.filename, next(_RUN_NUMBERS))
    if not names_runner(cfg):
        return Runner.from_cfg(cfg)
    prepare_flexible_config(cfg)
    return RUNNERS.build(cfg)


def experiment_name(config_path: str | None, run_number: int) -> str:
    """The name of a process's ``run_number``-th run of a config, before MMEngine's timestamp."""
    stem = osp.splitext(osp.basename(config_path or "run"))[0]
    return stem if run_number == 0 else f"{stem}_run{run_number}"


def add_reliability_hooks(cfg: Config) -> None:
    """Add the hooks that make resume exact and stop non-finite runs (once each)."""
    hooks = list(cfg.get("custom_hooks") or [])
    present = {h.get("type") if isinstance(h, dict) else type(h).__name__ for h in hooks}
    hooks += [dict(type=name) for name in RELIABILITY_HOOKS if name not in present]
    cfg.custom_hooks = hooks


def train(cfg: Config) -> Runner | FlexibleRunner:
    """Check everything, train as configured, print where the logs and the last checkpoint are."""
    with user_errors():
        check_config(cfg)
        run_preflight_checks(cfg)
        check_work_dir(cfg.work_dir)
    # before anything is written or looked for in the work dir: --resume included
    with work_dir_lock(cfg.work_dir, cfg.get("launcher", "none")) as takeover_note:
        with user_errors():
            resolve_resume(cfg)
            runner = build_runner(cfg)
        if takeover_note is not None:
            print_log(takeover_note, logger=runner.logger, level=logging.WARNING)
        if isinstance(runner, FlexibleRunner):
            prepare_flexible_training(runner)
        else:
            prepare_training(runner)
        with user_errors():  # e.g. a resumed optimizer state that does not fit the run's length
            runner.train()
        report_outputs(runner)
    return runner


def test(cfg: Config, checkpoint: str) -> dict[str, Any]:
    """Evaluate ``checkpoint`` on the config's test split; returns the metrics.

    Takes no work dir lock: evaluation may run beside a training run (tools/cli/work_dir_lock.py).
    """
    if not is_remote(checkpoint) and not osp.isfile(checkpoint):
        raise UserError(f"checkpoint {checkpoint!r} not found; give the path of a .pth file.")
    cfg.load_from, cfg.resume = checkpoint, False
    with user_errors():
        check_config(cfg)
        run_preflight_checks(cfg, stage="test")
        check_work_dir(cfg.work_dir)
        runner = build_runner(cfg)
    if isinstance(runner, FlexibleRunner):
        prepare_flexible_test(runner)
    else:
        check_start_checkpoint(runner, resume=False)
    with user_errors():
        return runner.test()


def write_metrics(metrics: dict[str, Any], path: str) -> None:
    """Write the test metrics to ``path`` (format by suffix: json, yaml, pkl) on rank 0."""
    if is_main_process():
        mmengine.dump(metrics, path)
        print(f"metrics written to {path}", flush=True)


def report_outputs(runner: Runner | FlexibleRunner) -> None:
    """Print the log directory, the last checkpoint and the steps taken and skipped (rank 0)."""
    if runner.rank != 0:
        return
    pointer = osp.join(runner.work_dir, "last_checkpoint")
    last = "none written"
    if osp.isfile(pointer):
        with open(pointer) as f:
            last = f.read().strip()
    print(f"logs: {runner.log_dir}\nlast checkpoint: {last}", flush=True)
    counts = run_step_counts(runner)
    if counts is not None:
        print(counts.summary(), flush=True)
