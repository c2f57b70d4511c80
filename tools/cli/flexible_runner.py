"""MMEngine's FlexibleRunner (``runner_type``, ``strategy``): built and checked like the Runner.

The FlexibleRunner hands the model, the optimizer and the schedules to its strategy, which
builds them all at once inside ``train()``/``test()``. ``prepare_flexible_training`` and
``prepare_flexible_test`` call the strategy's ``prepare`` first, with the arguments the
FlexibleRunner passes, so that a mistake is one paragraph and the start checkpoint is checked
against the built model before any step; the FlexibleRunner then reuses what was prepared.
Which strategies may run is decided before anything is built (``check_strategy`` in
config_checks.py). ``FSDP2Strategy`` (core/mmengine_adapter/fsdp2_strategy.py) shards the
model with torch FSDP2; its start checkpoint is checked against the sharded model here.
"""

from __future__ import annotations

from typing import Any

from mmengine.config import Config
from mmengine.registry import STRATEGIES
from mmengine.runner import FlexibleRunner
from mmengine.runner.utils import _get_batch_size

from arsam.core.mmengine_adapter.fsdp2_checks import check_fits_sharded_model
from arsam.core.mmengine_adapter.fsdp2_strategy import FSDP2Strategy
from arsam.core.mmengine_adapter.optimizer_identity import check_resume_plan
from arsam.core.training_infra.checkpoint_checks import (
    ALLOW_NONFINITE_KEY,
    check_finite_weights,
    check_resumable,
)
from arsam.core.training_infra.checkpoint_loading import load_checkpoint_safely

from .errors import config_errors, user_errors
from .startup import check_start_checkpoint

CPU_WRAPPER = "CPUDistributedDataParallel"


def names_runner(cfg: Config) -> bool:
    """Whether the config names its runner (``runner_type``), as MMPose's tools read it."""
    return "runner_type" in cfg


def prepare_flexible_config(cfg: Config) -> None:
    """Fill in what the Runner defaults and FlexibleRunner needs; give DDP the CPU wrapper.

    ``FlexibleRunner.from_cfg`` has no default for ``env_cfg``: the Runner's is used (NCCL; a
    launched run without CUDA already started gloo). Such a run was also given the CPU DDP
    wrapper in ``model_wrapper_cfg``, which a DDP strategy takes as its ``model_wrapper``.
    """
    if cfg.get("env_cfg") is None:
        cfg.env_cfg = dict(dist_cfg=dict(backend="nccl"))
    wrapper = cfg.get("model_wrapper_cfg")
    if not isinstance(wrapper, dict) or wrapper.get("type") != CPU_WRAPPER:
        return
    strategy = dict(cfg.get("strategy") or dict(type="DDPStrategy"))
    kind = strategy.get("type")
    klass = STRATEGIES.get(kind) if isinstance(kind, str) else kind
    if not (isinstance(klass, type) and issubclass(klass, STRATEGIES.get("DDPStrategy"))):
        return
    model_wrapper = dict(strategy.get("model_wrapper") or dict(broadcast_buffers=False))
    model_wrapper["type"] = CPU_WRAPPER
    strategy["model_wrapper"] = model_wrapper
    cfg.strategy = strategy


def prepare_flexible_training(runner: FlexibleRunner) -> None:
    """Build the loops, model, optimizer and schedules; check the start checkpoint (no step yet)."""
    with config_errors("train_dataloader/train_cfg"):
        runner.train_loop  # noqa: B018  (the property builds the loop and its data loader)
    with config_errors("model/optim_wrapper/param_scheduler"):
        runner.strategy.prepare(
            runner.model,
            optim_wrapper=runner.optim_wrapper,
            param_scheduler=runner.param_schedulers,
            compile=_compile_options(runner._compile),
            dispatch_kwargs=dict(
                epoch_length=len(runner.train_dataloader),
                max_epochs=runner.max_epochs,
                max_iters=runner.max_iters,
                train_micro_batch_size_per_gpu=_get_batch_size(runner.train_dataloader),
            ),
        )
    runner.model = runner.strategy.model
    # runner.optim_wrapper stays the config until train(): the resume checks read it there
    _check_start(runner, resume=bool(runner._resume))
    with config_errors("val_dataloader/val_cfg"):
        runner.val_loop  # noqa: B018


def prepare_flexible_test(runner: FlexibleRunner) -> None:
    """Build the model as ``FlexibleRunner.test`` does and check the checkpoint against it."""
    init_weights = runner.cfg.get("init_weights_for_test_or_val", True)
    with config_errors("model"):
        runner.strategy.prepare(
            runner.model, dispatch_kwargs=dict(init_weights_for_test_or_val=init_weights)
        )
    runner.model = runner.strategy.model
    _check_start(runner, resume=False)


def _check_start(runner: FlexibleRunner, resume: bool) -> None:
    """The start checkpoint's checks; for a sharded model, against its names and shapes."""
    if not isinstance(runner.strategy, FSDP2Strategy):
        check_start_checkpoint(runner, resume=resume)
        return
    path = runner._load_from
    if path is None:
        return
    with user_errors():
        checkpoint = load_checkpoint_safely(str(path))
        if "state_dict" in checkpoint:
            allowed = bool(runner.cfg.get(ALLOW_NONFINITE_KEY))
            check_finite_weights(checkpoint, str(path), allowed)
        if resume:
            check_resumable(checkpoint, str(path), runner.param_schedulers is not None)
            check_resume_plan(checkpoint, str(path), runner)
        check_fits_sharded_model(runner.model, checkpoint, str(path))


def _compile_options(compile: bool | dict[str, Any]) -> bool | dict[str, Any]:
    """The ``compile`` argument ``FlexibleRunner.train`` gives the strategy."""
    if isinstance(compile, bool):
        return dict(target="train_step") if compile else False
    return dict(compile, target=compile.get("target", "train_step"))
