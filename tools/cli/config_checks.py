"""Checks of a loaded config that catch common mistakes before anything is built."""

from __future__ import annotations

import numbers
import os
import shutil
from typing import Any

from mmengine.config import Config
from mmengine.registry import MODEL_WRAPPERS, OPTIMIZERS, RUNNERS, STRATEGIES

from arsam.core.arguments import check_grad_norm_type, check_max_grad_norm
from arsam.core.mmengine_adapter import TWO_PASS_OPTIMIZERS
from arsam.core.training_infra.clipping import check_clip_grad
from arsam.core.training_infra.distributed import DEFAULT_MASTER_PORT, missing_launcher_variables
from arsam.core.training_infra.nonfinite import (
    MAX_CONSECUTIVE_SKIPS,
    MAX_SKIPPED_FRACTION,
    check_skip_limits,
)

from .errors import UserError
from .registry_checks import check_registry_arguments
from .signatures import accepted_arguments, reject_unknown

_BUILDER_KEYS = {"type", "base_optimizer", "warmup_epochs", "params"}


def check_config(cfg: Config) -> None:
    """Raise UserError for the mistakes that would otherwise surface as a traceback."""
    check_launcher_environment(cfg.get("launcher", "none"))
    check_dataloaders(cfg)
    wrapper = cfg.get("optim_wrapper")
    if isinstance(wrapper, dict):
        check_wrapper_matches_optimizer(wrapper)
        check_optimizer_arguments(wrapper.get("optimizer") or {})
    check_registry_arguments(cfg)
    check_update_safeguards(cfg)
    check_strategy(cfg)


def check_launcher_environment(launcher: str) -> None:
    """A launched run has the variables its launcher sets (and, for Slurm, a master address)."""
    missing = missing_launcher_variables(launcher)
    if missing:
        raise UserError(
            f"--launcher {launcher} needs the variables {_LAUNCHER_HELP[launcher]} "
            f"({', '.join(missing)} missing). {_LAUNCHER_FIX[launcher]}"
        )
    if launcher == "slurm" and "MASTER_ADDR" not in os.environ and not shutil.which("scontrol"):
        raise UserError(
            "--launcher slurm takes the address of the first task from Slurm's scontrol "
            "command, which is not on PATH here, and MASTER_ADDR is not set. Set MASTER_ADDR "
            "to the first host of SLURM_NODELIST "
            f"({os.environ['SLURM_NODELIST']!r}) and MASTER_PORT (default "
            f"{DEFAULT_MASTER_PORT}) in every task, or run where Slurm's commands are installed."
        )


_LAUNCHER_HELP = {
    "pytorch": "that torchrun sets",
    "slurm": "that srun sets in every task",
    "mpi": "that Open MPI's mpirun sets, plus MASTER_ADDR",
}
_LAUNCHER_FIX = {
    "pytorch": "Start the processes with tools/dist_train.sh CONFIG GPUS (on every machine, with "
    "NNODES, NODE_RANK and MASTER_ADDR set for more than one) or torchrun, or train in one "
    "process without --launcher.",
    "slurm": "Start the tasks with tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR or "
    "srun ... python tools/train.py CONFIG --launcher slurm; outside Slurm use "
    "tools/dist_train.sh, or train in one process without --launcher.",
    "mpi": "Start the processes with mpirun -np N -x MASTER_ADDR=<host of rank 0> "
    "[-x MASTER_PORT=29500] python tools/train.py CONFIG --launcher mpi (Open MPI only; with "
    "another MPI use tools/dist_train.sh), or train in one process without --launcher.",
}


def check_dataloaders(cfg: Config) -> None:
    """``persistent_workers=True`` needs worker processes."""
    for name in ("train_dataloader", "val_dataloader", "test_dataloader"):
        loader = cfg.get(name)
        if not isinstance(loader, dict):
            continue
        if loader.get("persistent_workers") and not loader.get("num_workers"):
            raise UserError(
                f"{name}.persistent_workers=True needs worker processes, but num_workers is "
                f"{loader.get('num_workers', 0)}. Set {name}.persistent_workers=False, or "
                f"{name}.num_workers to 1 or more."
            )


def check_wrapper_matches_optimizer(wrapper: dict) -> None:
    """Two-pass optimizers need SAMOptimWrapper and its constructor."""
    name = (wrapper.get("optimizer") or {}).get("type")
    if name not in TWO_PASS_OPTIMIZERS:
        return
    kind, constructor = wrapper.get("type", "OptimWrapper"), wrapper.get("constructor")
    if kind != "SAMOptimWrapper" or constructor != "SAMOptimWrapperConstructor":
        raise UserError(
            f"{name} runs a second forward-backward pass on some steps, which only "
            f"SAMOptimWrapper can do; the config has optim_wrapper type={kind!r}, "
            f"constructor={constructor!r}. Set optim_wrapper=dict(type='SAMOptimWrapper', "
            "constructor='SAMOptimWrapperConstructor', optimizer=...)."
        )


def check_update_safeguards(cfg: Config) -> None:
    """Clipping bounds and the non-finite hook's skip limits are in range (wrecked runs stop)."""
    wrapper = cfg.get("optim_wrapper")
    if isinstance(wrapper, dict):
        optimizer = wrapper.get("optimizer")
        two_pass = wrapper.get("type") == "SAMOptimWrapper" or (
            isinstance(optimizer, dict) and optimizer.get("type") in TWO_PASS_OPTIMIZERS
        )
        try:
            check_clip_grad(wrapper.get("clip_grad"), two_pass=two_pass)
        except ValueError as error:
            raise UserError(str(error)) from error
        if two_pass and isinstance(optimizer, dict):
            try:
                check_max_grad_norm(optimizer.get("max_grad_norm"))
                check_grad_norm_type(optimizer.get("grad_norm_type", 2.0))
            except (TypeError, ValueError) as error:
                raise UserError(f"optim_wrapper.optimizer.{error}") from error
    for hook in cfg.get("custom_hooks") or []:
        if isinstance(hook, dict) and hook.get("type") == "NonFiniteCheckHook":
            try:
                check_skip_limits(
                    hook.get("max_skipped_fraction", MAX_SKIPPED_FRACTION),
                    hook.get("max_consecutive_skips", MAX_CONSECUTIVE_SKIPS),
                )
            except ValueError as error:
                raise UserError(f"custom_hooks: {error}") from error


_SUPPORTED_INSTEAD = (
    "Train with DDP instead: the Runner without a strategy (tools/dist_train.sh CONFIG GPUS), "
    "or runner_type='FlexibleRunner' with strategy=dict(type='DDPStrategy'); sharded, with "
    "runner_type='FlexibleRunner' and strategy=dict(type='FSDP2Strategy') (torch FSDP2, "
    "fully_shard, whose norms are global over the shards; docs/distributed.md)."
)
_REFUSED_STRATEGIES = {
    "FSDPStrategy": "shards the parameters into FSDP1 flat shards, and each rank would "
    "normalise the SAM perturbation over its own shard only (a silently wrong perturbation)",
    "DeepSpeedStrategy": "runs the optimizer step inside DeepSpeed's engine, whose ZeRO "
    "stages partition gradients and optimizer state, so the two-pass step (perturb, second "
    "forward-backward, restore, update) cannot run and no norm would be global",
    "ColossalAIStrategy": "runs the optimizer step inside ColossalAI's booster, whose "
    "ZeRO/Gemini plugins shard gradients and optimizer state, so the two-pass step (perturb, "
    "second forward-backward, restore, update) cannot run and no norm would be global",
}
_FSDP1_WRAPPER = "FullyShardedDataParallel"


def check_strategy(cfg: Config) -> None:
    """A strategy runs only under FlexibleRunner, and none shards in a way SAM cannot reduce."""
    strategy = cfg.get("strategy")
    runner = cfg.get("runner_type")
    if strategy is not None and not _is_subclass_of(RUNNERS, runner, "FlexibleRunner"):
        raise UserError(
            f"the config sets strategy={_type_name(strategy)!r}, which only MMEngine's "
            f"FlexibleRunner reads; this config builds {_type_name(runner or 'Runner')!r}, which "
            "would drop it silently. Add runner_type='FlexibleRunner' (--cfg-options "
            "runner_type=FlexibleRunner), or remove strategy."
        )
    if isinstance(strategy, dict):
        refused = _names(STRATEGIES, strategy.get("type")) & set(_REFUSED_STRATEGIES)
        if refused:
            name = refused.pop()
            raise UserError(
                f"strategy type={_type_name(strategy)!r} is not supported: MMEngine's {name} "
                f"{_REFUSED_STRATEGIES[name]}. {_SUPPORTED_INSTEAD}"
            )
    for where, wrapper in (
        ("model_wrapper_cfg", cfg.get("model_wrapper_cfg")),
        ("strategy.model_wrapper", (strategy or {}).get("model_wrapper")),
    ):
        if isinstance(wrapper, dict) and _FSDP1_WRAPPER in _names(
            MODEL_WRAPPERS, wrapper.get("type")
        ):
            raise UserError(
                f"{where} type={_type_name(wrapper)!r} is not supported: FSDP1 shards the "
                "parameters into flat shards, and each rank would normalise the SAM "
                f"perturbation over its own shard only (a silently wrong perturbation). "
                f"{_SUPPORTED_INSTEAD}"
            )


def _names(registry: Any, kind: Any) -> set[str]:
    """The class names of ``kind`` (a registered name or a class) and of its bases."""
    klass = registry.get(kind) if isinstance(kind, str) else kind
    if isinstance(klass, type):
        return {c.__name__ for c in klass.__mro__}
    return {kind} if isinstance(kind, str) else set()


def _is_subclass_of(registry: Any, kind: Any, name: str) -> bool:
    """Whether ``kind`` (a registered name or a class) is ``name`` or derives from it."""
    return name in _names(registry, kind)


def _type_name(block: Any) -> str:
    """The ``type`` of a config block (or the block itself), as a name."""
    kind = block.get("type") if isinstance(block, dict) else block
    return getattr(kind, "__name__", str(kind))


def check_optimizer_arguments(optimizer: dict) -> None:
    """Every argument in the optimizer block is one its class takes; warm-up is not negative."""
    name = optimizer.get("type")
    klass = OPTIMIZERS.get(name) if isinstance(name, str) else name
    if name in TWO_PASS_OPTIMIZERS:
        klass = TWO_PASS_OPTIMIZERS[name]
        _check_warmup(optimizer.get("warmup_epochs"), "warmup_epochs")
        base = optimizer.get("base_optimizer")
        if isinstance(base, dict) and isinstance(base.get("type"), str):
            base_class = OPTIMIZERS.get(base["type"])
            if isinstance(base_class, type):
                _check_known(base, base_class, "optim_wrapper.optimizer.base_optimizer")
    if isinstance(klass, type):
        _check_known(optimizer, klass, "optim_wrapper.optimizer")


def _check_warmup(value: Any, key: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
        raise UserError(
            f"optim_wrapper.optimizer.{key} must be a number of epochs >= 0, got {value!r}; "
            "0 means no warm-up."
        )


def _check_known(block: dict, klass: type, where: str) -> None:
    accepted = accepted_arguments(klass)
    if accepted is None:
        return
    if klass in TWO_PASS_OPTIMIZERS.values():
        accepted |= _BUILDER_KEYS
    listed = accepted - {"params", "self", "type"}
    reject_unknown(set(block) - {"type"}, accepted, where, klass.__name__, listed)


def check_work_dir(path: str) -> None:
    """The work directory exists or can be created, and is writable (nothing is created here)."""
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    problem = None
    if not os.path.isdir(existing):
        problem = f"{existing} is a file, not a folder"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = f"no permission to write in {existing}"
    if problem is not None:
        raise UserError(
            f"cannot write to the work directory {path!r} ({problem}). Give a writable folder "
            "with --work-dir DIR."
        )
