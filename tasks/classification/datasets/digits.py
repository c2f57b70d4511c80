"""scikit-learn's bundled 8x8 handwritten digits as a small image-classification set."""

from __future__ import annotations

from typing import Any

import numpy as np
from mmengine.dataset import Compose
from mmengine.registry import DATASETS
from sklearn.datasets import load_digits
from torch.utils.data import Dataset

DIGITS_MEAN = (78.1,)
DIGITS_STD = (96.0,)


def digits_split(test_fraction: float = 0.25, seed: int = 0) -> dict[str, np.ndarray]:
    """Sample indices of a fixed class-stratified train/test split of the 1797 digits."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    labels = load_digits().target
    rng = np.random.RandomState(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        cut = round(len(members) * test_fraction)
        test.append(members[:cut])
        train.append(members[cut:])
    return {"train": np.sort(np.concatenate(train)), "test": np.sort(np.concatenate(test))}


@DATASETS.register_module()
class DigitsDataset(Dataset):
    """Digits 0-9 as ``scale``-times upsampled grayscale uint8 images (16x16 by default)."""

    def __init__(
        self,
        split: str = "train",
        pipeline: list | None = None,
        scale: int = 2,
        test_fraction: float = 0.25,
        seed: int = 0,
    ) -> None:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        digits = load_digits()
        indices = digits_split(test_fraction, seed)[split]
        images = np.round(digits.images[indices] * (255.0 / 16.0)).astype(np.uint8)
        images = images.repeat(scale, axis=1).repeat(scale, axis=2)
        self.split = split
        self.indices = indices
        self.images = images[..., None]
        self.labels = digits.target[indices].astype(np.int64)
        self.metainfo = {"classes": tuple(str(i) for i in range(10))}
        self.pipeline = Compose(pipeline or [dict(type="PackClsInputs")])

    def __len__(self) -> int:
        """Number of images in the split."""
        return len(self.labels)

    def __getitem__(self, index: int) -> Any:
        """One sample through the pipeline."""
        return self.pipeline({"img": self.images[index], "gt_label": int(self.labels[index])})
