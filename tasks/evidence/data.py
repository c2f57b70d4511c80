"""In-memory tensors for the evidence workloads: digits or procedural images, optional label noise.

Everything is loaded once per process and kept as normalised float tensors, so a training
step is an index into a tensor (no DataLoader).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class DataSpec:
    """Which images, how many, and how noisy the training labels are.

    Attributes:
        source: 'digits' (scikit-learn's 8x8 digits, 1347 train / 450 test) or 'procedural'
            (``arsam.tasks.classification.datasets.procedural``, 32x32 RGB).
        train_size: training images used (a class-balanced subset, fixed across seeds);
            None: all of them.
        test_size: test images (procedural only; digits always uses its 450).
        label_noise: share of training labels moved to another class (drawn with the run's seed).
        image_size: procedural images are average-pooled down to this size.
    """

    source: str = "digits"
    train_size: int | None = None
    test_size: int = 2000
    label_noise: float = 0.0
    image_size: int = 32


@dataclass(frozen=True)
class Tensors:
    """Normalised images (N, C, H, W) and labels of both splits, ready for training."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    num_classes: int

    @property
    def in_shape(self) -> tuple[int, ...]:
        """Shape of one image, (C, H, W)."""
        return tuple(self.x_train.shape[1:])


def noisy_labels(labels: np.ndarray, rate: float, num_classes: int, seed: int) -> np.ndarray:
    """round(rate * n) labels moved uniformly to another class (as NoisyLabelDataset does)."""
    rng = np.random.default_rng(seed)
    count = round(rate * labels.size)
    chosen = rng.permutation(labels.size)[:count]
    noisy = labels.copy()
    noisy[chosen] = (labels[chosen] + rng.integers(1, num_classes, size=count)) % num_classes
    return noisy


def _stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """A boolean test mask holding round(test_fraction * n_c) samples of every class c."""
    rng = np.random.RandomState(seed)
    test = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        test[members[: round(len(members) * test_fraction)]] = True
    return test


def _balanced_subset(labels: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``size`` samples with class counts as equal as possible."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    rank = np.empty(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        members = order[labels[order] == label]
        rank[members] = np.arange(len(members))
    chosen = np.lexsort((order.argsort(), rank))[:size]
    return np.sort(chosen)


@lru_cache(maxsize=4)
def _raw_digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]
    labels = digits.target.astype(np.int64)
    test = _stratified_split(labels, 0.25, seed=0)
    return images[~test], labels[~test], images[test], labels[test]


@lru_cache(maxsize=4)
def _raw_procedural(
    train_size: int, test_size: int, image_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from arsam.tasks.classification.datasets.procedural import procedural_images

    def load(count: int, split: str) -> tuple[np.ndarray, np.ndarray]:
        images, labels = procedural_images(count, seed=0, split=split)
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)
        if image_size != x.shape[-1]:
            x = torch.nn.functional.adaptive_avg_pool2d(x, image_size)
        return x.numpy(), labels

    x_train, y_train = load(train_size, "train")
    x_test, y_test = load(test_size, "test")
    return x_train, y_train, x_test, y_test


def load_tensors(spec: DataSpec, seed: int) -> Tensors:
    """The data of ``spec``, with training labels noised by ``seed``; normalised per channel."""
    if spec.source == "digits":
        x_train, y_train, x_test, y_test = _raw_digits()
        if spec.train_size is not None:
            keep = _balanced_subset(y_train, spec.train_size)
            x_train, y_train = x_train[keep], y_train[keep]
    elif spec.source == "procedural":
        if spec.train_size is None:
            raise ValueError("procedural data needs a train_size")
        x_train, y_train, x_test, y_test = _raw_procedural(
            spec.train_size, spec.test_size, spec.image_size
        )
    else:
        raise ValueError(f"unknown data source {spec.source!r}; known: digits, procedural")
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    if spec.label_noise:
        y_train = noisy_labels(y_train, spec.label_noise, num_classes, seed)
    mean = x_train.mean(axis=(0, 2, 3), keepdims=True)
    std = x_train.std(axis=(0, 2, 3), keepdims=True) + 1e-6
    return Tensors(
        x_train=torch.from_numpy((x_train - mean) / std).contiguous(),
        y_train=torch.from_numpy(np.asarray(y_train)),
        x_test=torch.from_numpy((x_test - mean) / std).contiguous(),
        y_test=torch.from_numpy(np.asarray(y_test)),
        num_classes=num_classes,
    )
