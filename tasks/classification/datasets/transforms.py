"""Per-image augmentations on ``results['img']`` (an HxWxC uint8 array) and the final packing.

The crop and the flip are torchvision's ``transforms.v2`` under the names the configs use.
Cutout stays a small sampler of its own: ``v2.RandomErasing`` keeps the square inside the
image (25% of a 32x32 image erased every time), while Cutout centres it anywhere and clips
it at the borders (19% erased on average); the erasing itself is torchvision's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from mmengine.registry import TRANSFORMS
from torch import Tensor
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF


def _apply_to_image(results: dict[str, Any], transform: Callable[[Tensor], Tensor]) -> None:
    """results['img'] := transform of it, seen as a CxHxW tensor (a 2-D image as one channel)."""
    img = np.asarray(results["img"])
    flat = img.ndim == 2
    hwc = torch.from_numpy(np.ascontiguousarray(img[:, :, None] if flat else img))
    out = transform(hwc.permute(2, 0, 1)).permute(1, 2, 0).numpy()
    results["img"] = out[:, :, 0] if flat else out


@TRANSFORMS.register_module()
class RandomPadCrop:
    """Zero-pad every side by ``padding`` pixels, then crop ``size`` x ``size`` at random."""

    def __init__(self, size: int = 32, padding: int = 4) -> None:
        self.size = size
        self.padding = padding
        self.transform = v2.RandomCrop(size, padding=padding, fill=0)

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        """Apply the crop."""
        _apply_to_image(results, self.transform)
        return results


@TRANSFORMS.register_module()
class RandomHorizontalFlip:
    """Mirror the image left-right with probability ``prob``."""

    def __init__(self, prob: float = 0.5) -> None:
        self.prob = prob
        self.transform = v2.RandomHorizontalFlip(p=prob)

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        """Apply the flip."""
        _apply_to_image(results, self.transform)
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
        _apply_to_image(results, self._erase)
        return results

    def _erase(self, img: Tensor) -> Tensor:
        """``img`` (CxHxW) with the sampled square filled."""
        height, width = img.shape[-2:]
        cy, cx = torch.randint(height, ()).item(), torch.randint(width, ()).item()
        top, left = max(cy - self.size // 2, 0), max(cx - self.size // 2, 0)
        bottom = min(cy - self.size // 2 + self.size, height)
        right = min(cx - self.size // 2 + self.size, width)
        fill = torch.as_tensor(self.fill, dtype=torch.float64).round().to(img.dtype)
        return TF.erase(img, top, left, bottom - top, right - left, fill.reshape(-1, 1, 1))


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
