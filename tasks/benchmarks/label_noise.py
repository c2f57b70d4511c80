"""Symmetric label noise on a training set: a fixed share of labels moved to another class."""

from __future__ import annotations

from typing import Any

import numpy as np
from mmengine.registry import DATASETS
from torch.utils.data import Dataset


def symmetric_noise(
    labels: np.ndarray, rate: float, num_classes: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Labels with round(rate * n) of them moved uniformly to a different class, and the mask.

    The flipped samples and their new classes depend only on ``labels``, ``rate``,
    ``num_classes`` and ``seed``.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"label noise rate must lie in [0, 1], got {rate!r}")
    if num_classes < 2:
        raise ValueError(f"label noise needs at least 2 classes, got {num_classes}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels must lie in [0, {num_classes}), got {labels.min()}..{labels.max()}"
        )
    rng = np.random.default_rng(seed)
    count = round(rate * labels.size)
    chosen = rng.permutation(labels.size)[:count]
    # An offset in 1..C-1 added modulo C reaches every other class with equal probability.
    offsets = rng.integers(1, num_classes, size=count)
    noisy = labels.copy()
    noisy[chosen] = (labels[chosen] + offsets) % num_classes
    flipped = np.zeros(labels.size, dtype=bool)
    flipped[chosen] = True
    return noisy, flipped


@DATASETS.register_module()
class NoisyLabelDataset(Dataset):
    """Wraps a dataset with a ``labels`` array and replaces a share of them by other classes.

    Args:
        dataset: the dataset or its config (e.g. ``dict(type='DigitsDataset', split='train')``).
        noise_rate: share of samples whose label moves to a different class.
        seed: seed of the choice of samples and of their new classes.
        num_classes: number of classes; default: ``len(metainfo['classes'])``.
    """

    def __init__(
        self,
        dataset: Dataset | dict,
        noise_rate: float = 0.2,
        seed: int = 0,
        num_classes: int | None = None,
    ) -> None:
        inner = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        labels = getattr(inner, "labels", None)
        if labels is None:
            raise TypeError(
                f"NoisyLabelDataset needs a dataset with a 'labels' array (as DigitsDataset and "
                f"the CIFAR datasets have); {type(inner).__name__} has none"
            )
        metainfo = getattr(inner, "metainfo", {}) or {}
        if num_classes is None:
            classes = metainfo.get("classes")
            num_classes = len(classes) if classes else int(np.max(labels)) + 1
        self.dataset = inner
        self.noise_rate = float(noise_rate)
        self.seed = int(seed)
        self.clean_labels = np.asarray(labels, dtype=np.int64).copy()
        self.labels, self.flipped = symmetric_noise(
            self.clean_labels, self.noise_rate, num_classes, self.seed
        )
        inner.labels = self.labels

    @property
    def metainfo(self) -> dict[str, Any]:
        """The wrapped dataset's meta information."""
        return getattr(self.dataset, "metainfo", {})

    def __len__(self) -> int:
        """Number of samples of the wrapped dataset."""
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        """The wrapped dataset's sample, with its (possibly flipped) label."""
        return self.dataset[index]
