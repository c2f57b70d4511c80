"""Loading a config with the command line's choices, and checking its optimizer block."""

from __future__ import annotations

import numbers
import os
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmengine.registry import OPTIMIZERS

from arsam.core.mmengine_adapter import TWO_PASS_OPTIMIZERS

from .config_files import apply_cfg_options, read_config_file
from .errors import UserError


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
    cfg = read_config_file(path)
    if cfg_options:
        apply_cfg_options(cfg, cfg_options)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get("work_dir") is None:
        cfg.work_dir = osp.join("work_dirs", osp.splitext(osp.basename(path))[0])
    if resume == "auto":
        cfg.resume, cfg.load_from = True, None
    elif resume is not None:
        cfg.resume, cfg.load_from = True, resume
    if amp or _amp_wrapper_around_two_pass(cfg.get("optim_wrapper")):
        enable_amp(cfg)
    check_optimizer(cfg)
    return cfg


def enable_amp(cfg: Config) -> None:
    """Mixed precision (``--amp``): float16 with a loss scaler on CUDA, bfloat16 on the CPU.

    Two-pass optimizers train with SAMOptimWrapper's ``dtype`` (one the config already
    gives is kept); an ``AmpOptimWrapper`` around one, as MMPose's own ``--amp`` would
    write, becomes that SAMOptimWrapper with its ``dtype`` and ``loss_scale``. Plain
    optimizers get MMEngine's AmpOptimWrapper, which needs CUDA.
    """
    wrapper = cfg.get("optim_wrapper")
    if not isinstance(wrapper, dict):
        raise UserError("--amp needs the config's optim_wrapper dict; this config has none.")
    kind = wrapper.get("type", "OptimWrapper")
    cuda = torch.cuda.is_available()
    if kind == "SAMOptimWrapper" or _amp_wrapper_around_two_pass(wrapper):
        wrapper.type = "SAMOptimWrapper"
        wrapper.setdefault("constructor", "SAMOptimWrapperConstructor")
        wrapper.dtype = _amp_dtype_name(wrapper.get("dtype")) or ("float16" if cuda else "bfloat16")
        wrapper.setdefault("loss_scale", "dynamic")
    elif _optimizer_type(wrapper) in TWO_PASS_OPTIMIZERS:
        raise UserError(
            f"optim_wrapper type {kind!r} cannot run the two-pass optimizer "
            f"{_optimizer_type(wrapper)!r}, with or without --amp. Use "
            "optim_wrapper=dict(type='SAMOptimWrapper', constructor='SAMOptimWrapperConstructor', "
            "optimizer=...); --amp then sets its dtype (float16 on CUDA, bfloat16 on the CPU)."
        )
    elif kind in ("OptimWrapper", "AmpOptimWrapper") and cuda:
        wrapper.type = "AmpOptimWrapper"
        wrapper.setdefault("loss_scale", "dynamic")
    elif kind in ("OptimWrapper", "AmpOptimWrapper"):
        raise UserError(
            f"--amp without CUDA for optim_wrapper type {kind!r}: plain optimizers train in "
            "mixed precision with MMEngine's AmpOptimWrapper, which needs a GPU. On the CPU, "
            "--amp trains the two-pass configs (SAM, ARSAM, ...; SAMOptimWrapper) in "
            "bfloat16; train this config without --amp (float32), or on a GPU."
        )
    else:
        raise UserError(
            f"--amp does not know how to set up mixed precision for optim_wrapper type "
            f"{kind!r}: it handles 'SAMOptimWrapper' (two-pass optimizers), 'OptimWrapper' and "
            "'AmpOptimWrapper'. Leave --amp out and give that wrapper's precision settings in "
            "the config."
        )


def _optimizer_type(wrapper: dict) -> object:
    optimizer = wrapper.get("optimizer")
    return optimizer.get("type") if isinstance(optimizer, dict) else None


def _amp_wrapper_around_two_pass(wrapper: object) -> bool:
    """Whether ``wrapper`` is MMEngine's AmpOptimWrapper configured around a two-pass optimizer."""
    if not isinstance(wrapper, dict) or wrapper.get("type") != "AmpOptimWrapper":
        return False
    return _optimizer_type(wrapper) in TWO_PASS_OPTIMIZERS


def _amp_dtype_name(dtype: object) -> str | None:
    """A wrapper's ``dtype`` setting as SAMOptimWrapper's name for it (None: not given)."""
    names = {torch.float16: "float16", torch.bfloat16: "bfloat16"}
    name = names.get(dtype, dtype) if isinstance(dtype, torch.dtype) else dtype
    if name is None or name in ("float16", "fp16", "bfloat16", "bf16"):
        return name
    raise UserError(
        f"optim_wrapper.dtype {dtype!r} is not a mixed-precision type: give 'float16' (with a "
        "loss scaler; CUDA) or 'bfloat16' (no scaler; CUDA or CPU), or leave it out and let "
        "--amp choose."
    )


def check_optimizer(cfg: Config) -> None:
    """Raise UserError unless the config's optimizer and base optimizer are registered."""
    optimizer = _optimizer_block(cfg.get("optim_wrapper"))
    name = optimizer.get("type")
    if name is None:
        return
    if isinstance(name, str) and OPTIMIZERS.get(name) is None:
        raise UserError(
            f"unknown optimizer {name!r} in optim_wrapper.optimizer. Two-pass optimizers: "
            f"{', '.join(sorted(TWO_PASS_OPTIMIZERS))} (with optim_wrapper type "
            "'SAMOptimWrapper' and constructor 'SAMOptimWrapperConstructor', and "
            "'arsam.core.mmengine_adapter' in custom_imports); any torch optimizer such as "
            "'SGD' or 'Adam' with type 'OptimWrapper'."
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


def _optimizer_block(wrapper: object) -> dict:
    """The optim_wrapper's optimizer dict ({} when there is none); UserError if malformed."""
    example = "dict(type='SGD', lr=0.1) or dict(type='ARSAM', base_optimizer=dict(type='SGD'))"
    if wrapper is None:
        return {}
    if not isinstance(wrapper, dict):
        raise UserError(
            f"optim_wrapper must be a dict, such as dict(type='OptimWrapper', "
            f"optimizer=dict(type='SGD', lr=0.1)), got {wrapper!r}. To change one setting, "
            "give its key path: --cfg-options optim_wrapper.optimizer.lr=0.05."
        )
    optimizer = wrapper.get("optimizer")
    if optimizer is None:
        return {}
    if not isinstance(optimizer, dict) or "type" not in optimizer:
        raise UserError(
            f"optim_wrapper.optimizer must be a dict with a 'type', such as {example}, got "
            f"{optimizer!r}. To change one setting, give its key path: --cfg-options "
            "optim_wrapper.optimizer.lr=0.05."
        )
    return optimizer


def _epoch_based(train_cfg: dict | None) -> bool:
    if not train_cfg:
        return False
    kind = train_cfg.get("type")
    if kind is not None:
        return "Epoch" in str(kind)
    return bool(train_cfg.get("by_epoch", False))


def disable_validation(cfg: Config) -> None:
    """Train without validation (``--no-validate``), as MMPose does; no best checkpoint is kept."""
    cfg.val_cfg = None
    cfg.val_dataloader = None
    cfg.val_evaluator = None
    checkpoint = (cfg.get("default_hooks") or {}).get("checkpoint")
    if isinstance(checkpoint, dict) and checkpoint.get("save_best") is not None:
        checkpoint.save_best = None  # nothing to rank checkpoints by


def enable_auto_scale_lr(cfg: Config) -> None:
    """Scale the learning rate by the real batch size over ``auto_scale_lr.base_batch_size``."""
    settings = cfg.get("auto_scale_lr")
    base = settings.get("base_batch_size") if isinstance(settings, dict) else None
    if isinstance(base, bool) or not isinstance(base, numbers.Real) or base <= 0:
        found = "has none" if base is None else f"has {base!r}"
        raise UserError(
            "--auto-scale-lr multiplies the learning rate by (processes x "
            "train_dataloader.batch_size) / auto_scale_lr.base_batch_size, the total batch size "
            f"the config's learning rate was tuned for, but the config {found}. Add "
            "auto_scale_lr = dict(base_batch_size=N) to the config (or --cfg-options "
            "auto_scale_lr.base_batch_size=N) with N a positive number, or leave --auto-scale-lr "
            "out."
        )
    settings.enable = True


def enable_visualization(
    cfg: Config,
    show_dir: str | None,
    show: bool,
    wait_time: float,
    interval: int | None = None,
) -> None:
    """Draw predictions with the config's visualization hook (``--show-dir``, ``--show``).

    Classification configs without one get ``ClsVisualizationHook`` (arsam.tasks.classification).
    """
    if interval is not None and interval < 1:
        raise UserError(f"--interval must be 1 or more (draw every N-th sample), got {interval}.")
    if show_dir is None and not show:
        return
    flags = " and ".join(f for f, given in (("--show-dir", show_dir), ("--show", show)) if given)
    hooks = cfg.get("default_hooks")
    hook = (hooks or {}).get("visualization")
    if not isinstance(hook, dict) and imports_classification(cfg):
        hook = dict(type="ClsVisualizationHook")
        if hooks is None:
            cfg.default_hooks = dict(visualization=hook)
        else:
            hooks["visualization"] = hook
        hook = cfg.default_hooks.visualization
    if not isinstance(hook, dict):
        raise UserError(
            f"{flags} draws the predictions with the config's visualization hook "
            "(default_hooks.visualization: MMPose's PoseVisualizationHook in the pose configs, "
            "ClsVisualizationHook for configs that import arsam.tasks.classification), and this "
            "config has neither. Add default_hooks.visualization to the config, or leave "
            f"{flags} out and save the predictions with --dump FILE.pkl."
        )
    if show and not _has_display():
        raise UserError(
            "--show opens a window per image, but there is no display (DISPLAY and "
            "WAYLAND_DISPLAY are unset). Save the images instead with --show-dir DIR."
        )
    hook.enable = True
    hook.show = show
    if show:
        hook.wait_time = wait_time
    if interval is not None:
        hook.interval = interval
    # absolute: MMPose's hook joins a relative folder to the work dir on every test batch
    hook.out_dir = osp.abspath(show_dir) if show_dir is not None else None


def imports_classification(cfg: Config) -> bool:
    """Whether the config imports arsam.tasks.classification (its models give class predictions)."""
    imports = (cfg.get("custom_imports") or {}).get("imports") or []
    return "arsam.tasks.classification" in ([imports] if isinstance(imports, str) else imports)


def enable_pose_badcase(cfg: Config, show: bool, wait_time: float, interval: int) -> None:
    """Turn on the config's BadCaseAnalysisHook (MMPose's ``--badcase``)."""
    hook = (cfg.get("default_hooks") or {}).get("badcase")
    if not isinstance(hook, dict):
        raise UserError(
            "--badcase on this config needs default_hooks.badcase (MMPose's "
            "BadCaseAnalysisHook, as MMPose's default runtime sets it) and this config has none. "
            "Add badcase=dict(type='BadCaseAnalysisHook', out_dir='badcase', metric_type='loss', "
            "badcase_thr=5) to default_hooks, or leave --badcase out."
        )
    metric_type = hook.get("metric_type", "loss")
    if metric_type not in ("loss", "accuracy"):
        raise UserError(
            f"default_hooks.badcase.metric_type is {metric_type!r}; MMPose's "
            "BadCaseAnalysisHook ranks by 'loss' or 'accuracy'. Set one of them."
        )
    if metric_type == "loss" and not hook.get("metric"):
        head = (cfg.get("model") or {}).get("head") or {}
        if head.get("loss") is not None:
            hook.metric = head["loss"]
    hook.enable = True
    hook.show = show
    if show:
        hook.wait_time = wait_time
    hook.interval = interval


def add_dump_metric(cfg: Config, path: str) -> None:
    """Also pickle every test prediction to ``path`` (``--dump``) with MMEngine's DumpResults."""
    check_output_file(path, "--dump", (".pkl", ".pickle"))
    dump = dict(type="DumpResults", out_file_path=osp.abspath(path))
    evaluators = cfg.get("test_evaluator")
    if isinstance(evaluators, list | tuple):
        cfg.test_evaluator = [*evaluators, dump]
    elif evaluators is None:
        cfg.test_evaluator = [dump]
    else:
        cfg.test_evaluator = [evaluators, dump]


METRIC_FILE_SUFFIXES = (".json", ".yaml", ".yml", ".pkl", ".pickle")


def check_output_file(path: str, flag: str, suffixes: tuple[str, ...]) -> None:
    """Raise UserError unless ``path`` has one of ``suffixes`` and its folder can be made."""
    if not path.lower().endswith(suffixes):
        raise UserError(
            f"{flag} {path!r}: the file name must end with {' or '.join(suffixes)}, which "
            "decides the format it is written in. Give for example "
            f"{flag} work_dirs/results{suffixes[0]}."
        )
    folder = osp.dirname(osp.abspath(path))
    existing = folder
    while not osp.exists(existing):
        existing = osp.dirname(existing)
    if not osp.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(
            f"{flag} {path!r}: cannot write into {folder} ({existing} is not a writable "
            "folder). Give a path in a folder you can write to."
        )


def _has_display() -> bool:
    """Whether a window can be opened (always assumed outside Linux)."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
