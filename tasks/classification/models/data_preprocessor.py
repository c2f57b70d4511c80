"""Batch assembly for image classification: stack, move to the device, normalise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from mmengine.model import BaseDataPreprocessor
from mmengine.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class ClsDataPreprocessor(BaseDataPreprocessor):
    """Turns ``dict(inputs=uint8 images, labels=ints)`` into normalised float batches."""

    def __init__(
        self,
        mean: Sequence[float] = (0.0,),
        std: Sequence[float] = (1.0,),
        non_blocking: bool = True,
    ) -> None:
        super().__init__(non_blocking=non_blocking)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1), False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(-1, 1, 1), False)

    def forward(self, data: dict[str, Any], training: bool = False) -> dict[str, Any]:
        """Stack images (CHW, 0-255) and labels, cast to the device and normalise the images."""
        inputs = data["inputs"]
        if not isinstance(inputs, Tensor):
            inputs = torch.stack(list(inputs))
        labels = data.get("labels")
        if labels is not None and not isinstance(labels, Tensor):
            labels = torch.as_tensor(
                [int(label) for label in labels] if isinstance(labels, Sequence) else labels
            )
        batch = self.cast_data({"inputs": inputs, "labels": labels})
        batch["inputs"] = (batch["inputs"].float() - self.mean) / self.std
        if batch["labels"] is not None:
            batch["labels"] = batch["labels"].long()
        return batch
