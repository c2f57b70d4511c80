"""Small CIFAR-10/100 files in the real on-disk pickle format, for tests and demos."""

from __future__ import annotations

import os
import pickle

import numpy as np


def _write(path: str, payload: dict) -> None:
    with open(path, "wb") as handle:
        pickle.dump(payload, handle, protocol=2)


def _batch(rng: np.random.Generator, count: int, num_classes: int, key: str) -> dict:
    labels = (np.arange(count) % num_classes).tolist()
    data = rng.integers(0, 256, size=(count, 3 * 32 * 32), dtype=np.uint8)
    return {"data": data, key: labels, "filenames": [f"img_{i}.png" for i in range(count)]}


def make_fake_cifar(
    root: str, num_per_split: int = 20, cifar100: bool = False, seed: int = 0
) -> str:
    """Write fake CIFAR files under ``root``; returns the dataset folder.

    CIFAR-10: ``cifar-10-batches-py/data_batch_1..5`` (``num_per_split`` images each),
    ``test_batch`` and ``batches.meta``. CIFAR-100: ``cifar-100-python/train``
    (``num_per_split`` images), ``test`` and ``meta``. Labels cycle through the classes.
    """
    rng = np.random.default_rng(seed)
    if cifar100:
        folder = os.path.join(root, "cifar-100-python")
        os.makedirs(folder, exist_ok=True)
        for name in ("train", "test"):
            batch = _batch(rng, num_per_split, 100, "fine_labels")
            batch["coarse_labels"] = [label // 5 for label in batch["fine_labels"]]
            _write(os.path.join(folder, name), batch)
        _write(
            os.path.join(folder, "meta"),
            {
                "fine_label_names": [f"fine_{i}" for i in range(100)],
                "coarse_label_names": [f"coarse_{i}" for i in range(20)],
            },
        )
        return folder
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder, exist_ok=True)
    for index in range(1, 6):
        batch = _batch(rng, num_per_split, 10, "labels")
        _write(os.path.join(folder, f"data_batch_{index}"), batch)
    _write(os.path.join(folder, "test_batch"), _batch(rng, num_per_split, 10, "labels"))
    _write(
        os.path.join(folder, "batches.meta"),
        {"label_names": [f"class_{i}" for i in range(10)], "num_cases_per_batch": num_per_split},
    )
    return folder
