"""Loading a config with the command line's choices, and checking its optimizer block."""

from __future__ import annotations

import os.path as osp

import torch
from mmengine.config import Config
from mmengine.registry import OPTIMIZERS

from core.mmengine_adapter import TWO_PASS_OPTIMIZERS

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
