"""Tiny quantized networks, batches and Runner configs shared by the quantization tests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from mmengine.config import Config
from torch import nn

import arsam.tasks.classification
import arsam.tasks.quantization
from arsam.tasks.quantization import QuantCifarResNet

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "quantization"
SCALE_PATTERN = r"scaling_impl\.value$"


def tiny_net(seed: int = 0, **kwargs: Any) -> QuantCifarResNet:
    """A two-stage, eight-channel quantized ResNet for 3x16x16 images."""
    torch.manual_seed(seed)
    options = dict(num_classes=10, base_width=8, blocks=(1, 1), collect_stats_steps=50)
    options.update(kwargs)
    return QuantCifarResNet(**options)


def batch(seed: int = 1, size: int = 8, channels: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """One fixed minibatch of 16x16 images and labels."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(size, channels, 16, 16, generator=generator)
    return images, torch.randint(0, 10, (size,), generator=generator)


def scale_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """The learned quantizer scales of ``model``, by name."""
    return {n: p for n, p in model.named_parameters() if re.search(SCALE_PATTERN, n)}


def quantizer_counters(model: nn.Module) -> set[int]:
    """The distinct calibration counters of ``model``'s activation quantizers."""
    return set(arsam.tasks.quantization.calibration_counters(model).values())


def batchnorm_counters(model: nn.Module) -> set[int]:
    """The distinct ``num_batches_tracked`` of ``model``'s BatchNorm layers."""
    return {int(m.num_batches_tracked) for m in model.modules() if isinstance(m, nn.BatchNorm2d)}


def tiny_runner_cfg(config: str, work_dir: Path, iters: int = 4, **backbone: Any) -> Config:
    """``config`` cut down to ``iters`` iterations on small batches, validated once at the end."""
    cfg = Config.fromfile(str(CONFIG_DIR / config))
    cfg.work_dir = str(work_dir)
    cfg.train_cfg = dict(by_epoch=False, max_iters=iters, val_interval=iters)
    cfg.train_dataloader.batch_size = 16
    cfg.val_dataloader.batch_size = 150
    cfg.test_dataloader = cfg.val_dataloader
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=iters, by_epoch=False)
    cfg.default_hooks.logger = dict(type="LoggerHook", interval=1)
    cfg.log_processor = dict(by_epoch=False, window_size=1)
    cfg.env_cfg.cudnn_benchmark = False
    cfg.model.backbone.update(backbone)
    if "warmup_epochs" in cfg.optim_wrapper.optimizer:
        cfg.optim_wrapper.optimizer.pop("warmup_epochs")
        cfg.optim_wrapper.optimizer.warmup_steps = 1
    if cfg.optim_wrapper.optimizer.get("type") == "ARSAM":
        # a run of a few steps: half of them SAM steps (the default 0.10 would round to none)
        cfg.optim_wrapper.optimizer.horizon_options = dict(budget=0.5)
    return cfg
