"""Part ``quantization``: W4A4 ResNet-18 (Brevitas) through tools/train.py on fake CIFAR-10."""

from __future__ import annotations

import os
from typing import Any

from .context import PartContext
from .settings import REPO
from .training_runs import add_ratios, arsam_train_options, common_train_options, train_each


def part_quantization(ctx: PartContext) -> dict[str, Any]:
    """W4A4 ResNet-18 (Brevitas) with SGD, SAM and ARSAM on fake CIFAR-10 files."""
    from tasks.classification.datasets.fake_cifar import make_fake_cifar

    scale = ctx.scale
    data = os.path.join(ctx.out, "cifar10")
    make_fake_cifar(data, num_per_split=scale.quant_per_split)
    options = [
        f"train_dataloader.dataset.data_root={data}",
        f"val_dataloader.dataset.data_root={data}",
        "train_dataloader.dataset.verify_checksums=False",
        "val_dataloader.dataset.verify_checksums=False",
        "train_cfg.max_epochs=1",
        *common_train_options(scale, scale.quant_batch),
        *scale.quant_options,
    ]
    result: dict[str, Any] = {
        "config": "configs/quantization/resnet18_w4a4_cifar10_{sgd,sam,arsam}.py",
        "batch_size": scale.quant_batch,
        "images": 5 * scale.quant_per_split,
        "options": list(scale.quant_options),
        "arsam": {"warmup_epochs": 0, "window": scale.arsam_window},
    }
    folder = os.path.join(REPO, "configs", "quantization")
    runs = [
        (
            name,
            os.path.join(folder, f"resnet18_w4a4_cifar10_{name}.py"),
            options + arsam_train_options(name, scale),
        )
        for name in ctx.train_names()
    ]
    train_each(ctx, runs, result)
    add_ratios(result["rows"], "sgd")
    return result
