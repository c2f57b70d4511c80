"""The check's sizes (GPU or tiny CPU ones), budgets, file names and the runs it trains."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = str(Path(os.path.abspath(__file__)).parents[3])
SCRIPT = os.path.join(REPO, "tools", "reproduce", "gpu_check.py")
DEFAULT_OUT = os.path.join("work_dirs", "gpu_check")
GPU_BUDGET_S, TINY_BUDGET_S = 480.0, 900.0
RESULT_FILE = "result.json"
TINY_ENV = "GPU_CHECK_TINY"  # set for the children of a tiny run
LOG_TAIL_LINES = 15
# (precision, channels_last): fp32 as the reference; NHWC where tensor cores run the convolutions.
COST_MODES = (("fp32", False), ("bf16", True), ("fp16", True))
PROCEDURAL_MODULE = "arsam.tasks.classification.datasets.procedural"
ACCURACY_EPOCHS = 2
# The runs of the training parts, in this order: the base optimizer (the reference), ARSAM,
# then SAM (the most expensive, so the one a part running out of time loses).
TRAIN_RUNS = ("base", "arsam", "sam")
TRAIN_NAMES = {
    "pose": {"base": "adam", "sam": "sam", "arsam": "arsam"},
    "quantization": {"base": "sgd", "sam": "sam", "arsam": "arsam"},
    "accuracy": {"base": "base", "sam": "SAM", "arsam": "ARSAMPaper"},
}
OVERHEAD_TARGET = 1.03


@dataclass(frozen=True)
class Scale:
    """What differs between the GPU run and the tiny CPU run."""

    models: dict[str, dict[str, Any]]  # "resnet18", "wrn28_10": registered backbones
    input_shape: tuple[int, int, int]
    batch: int  # step cost, quantization and accuracy; sync and pose at half of it
    steps: dict[str, tuple[int, int]]  # part -> (unmeasured, measured) steps
    arsam_window: int
    workers: int
    skip_iters: int  # training iterations left out of the timing
    images: dict[str, int]  # generated training images (quantization: per file; test: 1/5)
    options: dict[str, tuple[str, ...]]  # --cfg-options of the pose and quantization runs
    acc_arsam: dict[str, Any]  # ARSAM's options in the accuracy part
    limits: dict[str, float]  # part -> seconds


GPU = Scale(
    models={
        "resnet18": {"type": "CifarResNet"},
        "wrn28_10": {"type": "WideResNet", "depth": 28, "widen_factor": 10},
    },
    input_shape=(3, 32, 32),
    batch=128,
    steps={
        "sync": (2, 30),
        "cost_resnet18": (10, 100),
        "cost_wrn28_10": (5, 30),
        "sharded": (1, 3),
    },
    arsam_window=10,
    workers=8,
    skip_iters=5,
    images={"pose": 640, "quantization": 768, "accuracy": 50_000},
    options={
        "pose": ("train_cfg.max_epochs=2",),
        "quantization": ("model.backbone.collect_stats_steps=5",),
    },
    acc_arsam={"warmup_steps": 12},
    limits={
        "sync": 40,
        "cost_resnet18": 70,
        "cost_wrn28_10": 80,
        "pose": 110,
        "quantization": 70,
        "accuracy": 90,
        "sharded": 60,
    },
)
TINY = Scale(
    models={
        "resnet18": {"type": "CifarResNet", "base_width": 4, "blocks": (1, 1, 1, 1)},
        "wrn28_10": {"type": "WideResNet", "depth": 10, "widen_factor": 1},
    },
    input_shape=(3, 8, 8),
    batch=8,
    steps={"sync": (2, 10), "cost_resnet18": (1, 4), "cost_wrn28_10": (1, 3), "sharded": (1, 2)},
    arsam_window=4,
    workers=0,
    skip_iters=1,
    images={"pose": 6, "quantization": 6, "accuracy": 256},
    options={
        "pose": (
            "train_cfg.max_epochs=1",
            "model.backbone.extra.stage1.num_channels=[8]",
            "model.backbone.extra.stage1.num_blocks=[1]",
            "model.backbone.extra.stage2.num_channels=[8,16]",
            "model.backbone.extra.stage2.num_blocks=[1,1]",
            "model.backbone.extra.stage3.num_modules=1",
            "model.backbone.extra.stage3.num_channels=[8,16,32]",
            "model.backbone.extra.stage3.num_blocks=[1,1,1]",
            "model.backbone.extra.stage4.num_modules=1",
            "model.backbone.extra.stage4.num_channels=[8,16,32,64]",
            "model.backbone.extra.stage4.num_blocks=[1,1,1,1]",
            "model.head.in_channels=8",
        ),
        "quantization": (
            "model.backbone.collect_stats_steps=2",
            "model.backbone.base_width=8",
            "model.backbone.blocks=[1,1,1,1]",
        ),
    },
    acc_arsam={"warmup_steps": 0, "window": 4, "var_blocks": 2},
    limits={name: 240 for name in GPU.limits},
)


def scale_for(tiny: bool) -> Scale:
    """The tiny sizes for a CPU smoke run, else the GPU sizes."""
    return TINY if tiny else GPU
