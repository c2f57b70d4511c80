"""The check's sizes (GPU or tiny CPU ones), budgets, file names and the runs it trains."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = str(Path(os.path.abspath(__file__)).parents[3])
SCRIPT = os.path.join(REPO, "tools", "reproduce", "gpu_check.py")
DEFAULT_OUT = os.path.join("work_dirs", "gpu_check")
GPU_BUDGET_S = 480.0
TINY_BUDGET_S = 900.0
RESULT_FILE = "result.json"
TINY_ENV = "GPU_CHECK_TINY"  # set for the children of a tiny run
LOG_TAIL_LINES = 15
# (precision, channels_last): fp32 as the reference; NHWC where tensor cores run the convolutions.
COST_MODES = (("fp32", False), ("bf16", True), ("fp16", True))
# The registered method that runs ARSAM's paper schedule; it gets the check's short window so
# that several windows fall inside the measured steps ("ARSAM" itself gets the run's length).
ARSAM_PAPER = "ARSAM-paper"
PROCEDURAL_MODULE = "tasks.classification.datasets.procedural"
# The runs of the training parts, in this order: the base optimizer (the reference), ARSAM,
# then SAM (the most expensive, so the one a part running out of time loses).
TRAIN_RUNS = ("base", "arsam", "sam")
TRAIN_NAMES = {
    "pose": {"base": "adam", "sam": "sam", "arsam": "arsam"},
    "quantization": {"base": "sgd", "sam": "sam", "arsam": "arsam"},
    "accuracy": {"base": "SGD", "sam": "SAM", "arsam": "ARSAM"},
}
OVERHEAD_TARGET = 1.03


@dataclass(frozen=True)
class Scale:
    """The sizes of every part: the GPU sizes, or tiny ones for a CPU run."""

    resnet18: dict[str, Any]
    wrn28_10: dict[str, Any]
    input_shape: tuple[int, int, int]
    batch: int
    cost_steps: dict[str, tuple[int, int]]  # model -> (warm-up steps, timed steps)
    arsam_window: int
    sync_batch: int
    sync_steps: int
    workers: int
    skip_iters: int
    pose_batch: int
    pose_images: int
    pose_epochs: int
    pose_options: tuple[str, ...]
    quant_batch: int
    quant_per_split: int
    quant_options: tuple[str, ...]
    acc_images: tuple[int, int]  # train, test
    acc_epochs: int
    acc_batch: int
    acc_arsam: dict[str, Any]
    limits: dict[str, float] = field(default_factory=dict)


GPU = Scale(
    resnet18={"type": "CifarResNet"},
    wrn28_10={"type": "WideResNet", "depth": 28, "widen_factor": 10},
    input_shape=(3, 32, 32),
    batch=128,
    cost_steps={"resnet18": (10, 100), "wrn28_10": (5, 30)},
    arsam_window=10,
    sync_batch=64,
    sync_steps=30,
    workers=8,
    skip_iters=5,
    pose_batch=64,
    pose_images=640,
    pose_epochs=2,
    pose_options=(),
    quant_batch=128,
    quant_per_split=768,
    quant_options=("model.backbone.collect_stats_steps=5",),
    acc_images=(50_000, 10_000),
    acc_epochs=2,
    acc_batch=128,
    acc_arsam={"warmup_steps": 12},
    limits={
        "sync": 40,
        "cost_resnet18": 70,
        "cost_wrn28_10": 80,
        "pose": 110,
        "quantization": 70,
        "accuracy": 90,
    },
)
_TINY_HRNET = (
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
)
TINY = Scale(
    resnet18={"type": "CifarResNet", "base_width": 4, "blocks": (1, 1, 1, 1)},
    wrn28_10={"type": "WideResNet", "depth": 10, "widen_factor": 1},
    input_shape=(3, 8, 8),
    batch=4,
    cost_steps={"resnet18": (1, 4), "wrn28_10": (1, 3)},
    arsam_window=4,
    sync_batch=2,
    sync_steps=10,
    workers=0,
    skip_iters=1,
    pose_batch=4,
    pose_images=6,
    pose_epochs=1,
    pose_options=_TINY_HRNET,
    quant_batch=8,
    quant_per_split=6,
    quant_options=(
        "model.backbone.collect_stats_steps=2",
        "model.backbone.base_width=8",
        "model.backbone.blocks=[1,1,1,1]",
    ),
    acc_images=(256, 64),
    acc_epochs=2,
    acc_batch=32,
    acc_arsam={"warmup_steps": 0, "window": 4, "var_blocks": 2},
    limits={name: 240 for name in GPU.limits},
)


def scale_for(tiny: bool) -> Scale:
    """The tiny sizes for a CPU smoke run, else the GPU sizes."""
    return TINY if tiny else GPU
