"""The check's parts in running order: name -> (title, function of a PartContext)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .accuracy_part import part_accuracy
from .context import PartContext
from .cost_part import part_cost
from .pose_part import part_pose
from .quantization_part import part_quantization
from .sync_part import part_sync

PartFunction = Callable[[PartContext], dict[str, Any]]

PARTS: dict[str, tuple[str, PartFunction]] = {
    "sync": ("Sync-free steps", part_sync),
    "cost_resnet18": ("Step cost, CIFAR ResNet-18", lambda ctx: part_cost(ctx, "resnet18")),
    "cost_wrn28_10": ("Step cost, WRN-28-10", lambda ctx: part_cost(ctx, "wrn28_10")),
    "pose": ("Pose, HRNet-W32 256x192", part_pose),
    "quantization": ("Quantization, W4A4 ResNet-18", part_quantization),
    "accuracy": ("Accuracy against time, procedural images", part_accuracy),
}


def part_title(name: str) -> str:
    """The report's title of part ``name``."""
    return PARTS[name][0]
