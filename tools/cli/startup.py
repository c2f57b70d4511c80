"""Everything a run checks and builds before its first training step.

The Runner builds the data loaders, the optimizer and the schedules inside ``train()`` and
loads the checkpoint after that; a mistake in any of them used to surface as a traceback.
``prepare_training`` builds them in the same order first, turning the errors into one
paragraph each, and checks the checkpoint the run starts from against the built model.
``Runner.train`` then reuses what was built.
"""

from __future__ import annotations

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import Runner

from arsam.core.mmengine_adapter.optimizer_identity import check_resume_plan
from arsam.core.training_infra.checkpoint_checks import (
    ALLOW_NONFINITE_KEY,
    check_finite_weights,
    check_model_matches,
    check_resumable,
    find_resumable_checkpoint,
)
from arsam.core.training_infra.checkpoint_loading import load_checkpoint_safely

from .errors import config_errors, user_errors


def resolve_resume(cfg: Config) -> None:
    """For ``--resume`` without a path: the newest complete checkpoint, or a fresh start."""
    if not cfg.get("resume") or cfg.get("load_from") is not None:
        return
    found = find_resumable_checkpoint(cfg.work_dir)
    if found is None:
        print_log(
            f"--resume: no complete checkpoint in {cfg.work_dir}; training starts from the "
            "beginning.",
            logger="current",
        )
        cfg.resume = False
    cfg.load_from = found


def prepare_training(runner: Runner) -> None:
    """Build the loops, optimizer and schedules, and check the start checkpoint (no step yet)."""
    with config_errors("train_dataloader/train_cfg"):
        runner.train_loop  # noqa: B018  (the property builds the loop and its data loader)
    # before the optimizer: loading may replace parameters (Brevitas' quantizer scales)
    check_start_checkpoint(runner, resume=bool(runner._resume))
    with config_errors("optim_wrapper"):
        runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    runner.scale_lr(runner.optim_wrapper, runner.auto_scale_lr)
    runner.auto_scale_lr = None  # scaled once, here; Runner.train would scale again
    if runner.param_schedulers is not None:
        with config_errors("param_scheduler"):
            runner.param_schedulers = runner.build_param_scheduler(runner.param_schedulers)
    with config_errors("val_dataloader/val_cfg"):
        runner.val_loop  # noqa: B018


def check_start_checkpoint(runner: Runner, resume: bool) -> None:
    """The checkpoint a run loads is readable, of this model, and resumable when resumed."""
    path = runner._load_from
    if path is None:
        return
    with user_errors():  # a URL is downloaded into the cache here, read safely like a file
        checkpoint = load_checkpoint_safely(str(path))
        check_finite_weights(checkpoint, str(path), bool(runner.cfg.get(ALLOW_NONFINITE_KEY)))
        if resume:
            check_resumable(checkpoint, str(path), runner.param_schedulers is not None)
            check_resume_plan(checkpoint, str(path), runner)
        check_model_matches(runner.model, checkpoint, str(path))
