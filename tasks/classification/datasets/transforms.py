"""Per-image augmentations on ``results['img']`` (an HxWxC uint8 array) and the final packing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from mmengine.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomPadCrop:
    """Zero-pad every side by ``padding`` pixels, then crop ``size`` x ``size`` at random."""

    def __init__(self, size: int = 32, padding: int = 4) -> None:
        self.size = size
        self.padding = padding

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        """Apply the crop."""
        img = results["img"]
        p = self.padding
        padded = np.pad(img, ((p, p), (p, p), (0, 0)))
        top = np.random.randint(0, padded.shape[0] - self.size + 1)
        left = np.random.randint(0, padded.shape[1] - self.size + 1)
        results["img"] = padded[top : top + self.size, left : left + self.size]
        return results


@TRANSFORMS.register_module()
class RandomHorizontalFlip:
    """Mirror the image left-right with probability ``prob``."""

    def __init__(self, prob: float = 0.5) -> None:
        self.prob = prob

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        """Apply the flip."""
        if np.random.rand() < self.prob:
            results["img"] = results["img"][:, ::-1]
        return results


@TRANSFORMS.register_module()
class Cutout:
    """Fill a ``size`` x ``size`` square at a random centre (clipped at the borders) with ``fill``.

    ``fill`` is one value or one per channel; giving the normalisation mean makes the patch zero
    after normalisation.
    """

    def __init__(self, size: int = 16, fill: float | Sequence[float] = 0) -> None:
        self.size = size
        self.fill = fill

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        """Apply the cutout."""
        img = np.array(results["img"], copy=True)
        height, width = img.shape[:2]
        cy, cx = np.random.randint(height), np.random.randint(width)
        top, bottom = max(cy - self.size // 2, 0), min(cy - self.size // 2 + self.size, height)
        left, right = max(cx - self.size // 2, 0), min(cx - self.size // 2 + self.size, width)
        fill = np.asarray(self.fill, dtype=np.float64).round().astype(img.dtype)
        img[top:bottom, left:right] = fill
        results["img"] = img
        return results


@TRANSFORMS.register_module()
class PackClsInputs:
    """Emit ``dict(inputs=CxHxW uint8 tensor, labels=int)`` for the data preprocessor."""

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        """Pack one sample."""
        img = np.ascontiguousarray(results["img"])
        if img.ndim == 2:
            img = img[:, :, None]
        inputs = torch.from_numpy(img.transpose(2, 0, 1).copy())
        return {"inputs": inputs, "labels": int(results["gt_label"])}
