"""Procedurally generated 32x32 RGB shape images: ten shape families, no download needed.

Each class is a shape family (disk, ring, square, ...) drawn at a random position, scale,
rotation and aspect, in a random colour on a random two-colour gradient background, with
smaller clutter shapes of other families, a low-frequency texture and pixel noise. Colour
carries no class information: only the shape does. Generation is vectorised with numpy
(about 10k images per second per core) and deterministic given ``seed`` and the split.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from mmengine.dataset import Compose
from mmengine.registry import DATASETS
from torch.utils.data import Dataset

PROCEDURAL_CLASSES = (
    "disk",
    "ring",
    "square",
    "triangle",
    "plus",
    "star",
    "crescent",
    "striped_disk",
    "bar",
    "frame",
)
PROCEDURAL_MEAN = (127.5, 127.5, 127.5)
PROCEDURAL_STD = (64.0, 64.0, 64.0)
PROCEDURAL_SPLIT_SIZES = {"train": 50_000, "test": 10_000}
_SPLIT_STREAMS = {"train": 0, "test": 1}
_CHUNK = 4096


def _disk(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u * u + v * v < 0.8


def _ring(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    r2 = u * u + v * v
    return (r2 < 0.85) & (r2 > 0.3)


def _square(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.maximum(np.abs(u), np.abs(v)) < 0.7


def _triangle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return (v > -0.6) & (v < 0.9 - 1.75 * np.abs(u))


def _plus(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    au, av = np.abs(u), np.abs(v)
    return ((au < 0.28) & (av < 0.95)) | ((av < 0.28) & (au < 0.95))


def _star(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    theta = np.arctan2(v, u)
    return np.sqrt(u * u + v * v) < 0.5 + 0.42 * np.cos(5.0 * theta)


def _crescent(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return (u * u + v * v < 0.85) & ((u - 0.45) ** 2 + v * v > 0.5)


def _striped_disk(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return (u * u + v * v < 0.9) & (np.sin(7.0 * u) > 0.0)


def _bar(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return (np.abs(u) < 0.95) & (np.abs(v) < 0.22)


def _frame(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    m = np.maximum(np.abs(u), np.abs(v))
    return (m < 0.8) & (m > 0.5)


_SHAPES: tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], ...] = (
    _disk,
    _ring,
    _square,
    _triangle,
    _plus,
    _star,
    _crescent,
    _striped_disk,
    _bar,
    _frame,
)


def _random_colours(rng: np.random.Generator, n: int) -> np.ndarray:
    """n saturated-ish random RGB colours in [0, 1], shape (n, 3)."""
    base = rng.uniform(0.0, 1.0, size=(n, 3))
    gray = base.mean(axis=1, keepdims=True)
    colours = gray + rng.uniform(1.0, 2.0, size=(n, 1)) * (base - gray)
    return np.clip(colours, 0.0, 1.0).astype(np.float32)


def _shape_masks(
    rng: np.random.Generator, classes: np.ndarray, size: int, scale: tuple[float, float]
) -> np.ndarray:
    """Boolean masks (n, size, size) of one shape of each given class at a random pose."""
    n = len(classes)
    axis = ((np.arange(size) + 0.5) / size * 2.0 - 1.0).astype(np.float32)
    y, x = np.meshgrid(axis, axis, indexing="ij")
    centre = rng.uniform(-0.45, 0.45, size=(n, 2)).astype(np.float32)
    radius = rng.uniform(*scale, size=n).astype(np.float32)
    aspect = np.exp(rng.uniform(-0.2, 0.2, size=n)).astype(np.float32)
    angle = rng.uniform(0.0, 2.0 * np.pi, size=n).astype(np.float32)
    dx = x[None] - centre[:, 0, None, None]
    dy = y[None] - centre[:, 1, None, None]
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    u = (cos * dx + sin * dy) / (radius * aspect)[:, None, None]
    v = (-sin * dx + cos * dy) / (radius / aspect)[:, None, None]
    masks = np.zeros((n, size, size), dtype=bool)
    for label in np.unique(classes):
        members = np.flatnonzero(classes == label)
        masks[members] = _SHAPES[label](u[members], v[members])
    return masks


def _render_chunk(
    rng: np.random.Generator,
    labels: np.ndarray,
    size: int,
    noise: float,
    clutter: int,
) -> np.ndarray:
    """uint8 images (n, size, size, 3) showing one shape of each label."""
    n = len(labels)
    axis = np.linspace(0.0, 1.0, size, dtype=np.float32)
    direction = rng.uniform(0.0, 2.0 * np.pi, size=n).astype(np.float32)
    ramp = (
        np.cos(direction)[:, None, None] * axis[None, None, :]
        + np.sin(direction)[:, None, None] * axis[None, :, None]
    )
    ramp = (ramp - ramp.min(axis=(1, 2), keepdims=True)) / np.ptp(ramp, axis=(1, 2), keepdims=True)
    start, end = _random_colours(rng, n), _random_colours(rng, n)
    images = start[:, None, None, :] + ramp[..., None] * (end - start)[:, None, None, :]
    # Low-frequency texture: a random sinusoidal ripple on the background.
    freq = rng.uniform(2.0, 6.0, size=(n, 2)).astype(np.float32)
    phase = rng.uniform(0.0, 2.0 * np.pi, size=n).astype(np.float32)
    ripple = np.sin(
        2 * np.pi * (freq[:, 0, None, None] * axis[None, None, :])
        + 2 * np.pi * (freq[:, 1, None, None] * axis[None, :, None])
        + phase[:, None, None]
    )
    images += 0.08 * ripple[..., None]
    num_classes = len(_SHAPES)
    for _ in range(clutter):
        present = rng.uniform(size=n) < 0.6
        others = (labels + rng.integers(1, num_classes, size=n)) % num_classes
        masks = _shape_masks(rng, others, size, (0.12, 0.25)) & present[:, None, None]
        colour = _random_colours(rng, n)
        np.copyto(images, colour[:, None, None, :], where=masks[..., None])
    masks = _shape_masks(rng, labels, size, (0.35, 0.6))
    colour = _random_colours(rng, n)
    background_mean = images.mean(axis=(1, 2))
    # Keep the shape visible: push its colour away from the background's mean colour.
    contrast = colour - background_mean
    weak = np.linalg.norm(contrast, axis=1) < 0.35
    colour[weak] = np.clip(background_mean[weak] + np.where(contrast[weak] >= 0, 0.4, -0.4), 0, 1)
    np.copyto(images, colour[:, None, None, :], where=masks[..., None])
    images += rng.standard_normal(size=images.shape, dtype=np.float32) * np.float32(noise)
    images *= np.float32(255.0)
    np.clip(images, 0.0, 255.0, out=images)
    return np.rint(images).astype(np.uint8)


def procedural_images(
    num_images: int,
    seed: int = 0,
    split: str = "train",
    num_classes: int = 10,
    size: int = 32,
    noise: float = 0.06,
    clutter: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, size, size, 3) uint8 and labels (N,) int64, deterministic in (seed, split).

    Classes are balanced (counts differ by at most one) and shuffled. ``noise`` is the
    standard deviation of the Gaussian pixel noise (images in [0, 1]); ``clutter`` is the
    number of small distractor shapes of other families tried per image (each drawn with
    probability 0.6).
    """
    if split not in _SPLIT_STREAMS:
        raise ValueError(f"split must be one of {sorted(_SPLIT_STREAMS)}, got {split!r}")
    if not 2 <= num_classes <= len(_SHAPES):
        raise ValueError(f"num_classes must be in [2, {len(_SHAPES)}], got {num_classes}")
    if num_images < 0 or size < 8:
        raise ValueError(f"need num_images >= 0 and size >= 8, got {num_images}, {size}")
    rng = np.random.default_rng([seed, _SPLIT_STREAMS[split]])
    labels = rng.permutation(np.arange(num_images) % num_classes).astype(np.int64)
    images = np.empty((num_images, size, size, 3), dtype=np.uint8)
    for start in range(0, num_images, _CHUNK):
        stop = min(start + _CHUNK, num_images)
        images[start:stop] = _render_chunk(rng, labels[start:stop], size, noise, clutter)
    return images, labels


@DATASETS.register_module()
class ProceduralDataset(Dataset):
    """Procedural shape images (32x32 RGB uint8, HxWxC) and their labels, CIFAR-sized by default.

    Args:
        split: 'train' (50,000 images by default) or 'test' (10,000).
        num_images: override the split's size.
        pipeline: transforms applied to ``{'img', 'gt_label'}``; default: PackClsInputs.
        seed: the generator's seed (train and test draw from different streams of it).
        num_classes, size, noise, clutter: see ``procedural_images``.
        data_root, download: ignored, so that a CIFAR config switches to this set by its type.
    """

    def __init__(
        self,
        split: str = "train",
        num_images: int | None = None,
        pipeline: list | None = None,
        seed: int = 0,
        num_classes: int = 10,
        size: int = 32,
        noise: float = 0.06,
        clutter: int = 3,
        data_root: str | None = None,
        download: bool = False,
    ) -> None:
        if split not in PROCEDURAL_SPLIT_SIZES:
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        count = PROCEDURAL_SPLIT_SIZES[split] if num_images is None else num_images
        self.split = split
        self.images, self.labels = procedural_images(
            count, seed, split, num_classes, size, noise, clutter
        )
        self.metainfo = {"classes": PROCEDURAL_CLASSES[:num_classes]}
        self.pipeline = Compose(pipeline or [dict(type="PackClsInputs")])

    def __len__(self) -> int:
        """Number of images in the split."""
        return len(self.labels)

    def __getitem__(self, index: int) -> Any:
        """One sample through the pipeline."""
        return self.pipeline({"img": self.images[index], "gt_label": int(self.labels[index])})
