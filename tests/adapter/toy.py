"""A toy MMEngine model and dataset for the adapter tests, registered on import."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from mmengine.dataset import BaseDataset
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, METRICS, MODELS, TRANSFORMS
from torch import nn


@MODELS.register_module(force=True)
class AdapterToyModel(BaseModel):
    """A small BatchNorm classifier that counts its training-mode loss forwards.

    ``nan_after=n`` makes every loss after the n-th forward NaN.
    """

    def __init__(
        self,
        width: int = 8,
        dropout: float = 0.0,
        nan_after: int | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.nan_after = nan_after
        self.net = nn.Sequential(
            nn.Linear(4, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Linear(width, 3)
        )
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.loss_forwards = 0

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor, mode: str = "tensor", **_):
        logits = self.net(self.dropout(inputs))
        if mode == "loss":
            self.loss_forwards += 1
            loss = nn.functional.cross_entropy(logits, labels)
            if self.nan_after is not None and self.loss_forwards > self.nan_after:
                loss = loss * float("nan")
            return {"loss": loss}
        if mode == "predict":
            return [(logits.argmax(1) == labels).float().mean()]
        return logits


@DATASETS.register_module(force=True)
class AdapterToyDataset(BaseDataset):
    """Fixed random 4-feature samples in 3 classes."""

    def __init__(self, size: int = 32, seed: int = 0, **kwargs) -> None:
        self.size, self.seed = size, seed
        super().__init__(serialize_data=False, lazy_init=False, **kwargs)

    def load_data_list(self) -> list[dict]:
        generator = torch.Generator().manual_seed(self.seed)
        x = torch.randn(self.size, 4, generator=generator)
        y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
        return [{"inputs": x[i], "labels": y[i]} for i in range(self.size)]


@TRANSFORMS.register_module(force=True)
class AdapterToyJitter:
    """Noise drawn from numpy's, Python's and torch's global generators, as augmentations do."""

    def __call__(self, results: dict) -> dict:
        noise = torch.from_numpy(np.random.randn(4).astype(np.float32)) + torch.rand(4)
        results["inputs"] = results["inputs"] + 0.1 * noise + 0.1 * random.random()
        return results


@METRICS.register_module(force=True)
class AdapterToyAccuracy(BaseMetric):
    """Mean of the per-batch accuracies that the toy model predicts."""

    def process(self, data_batch: Any, data_samples: Sequence) -> None:
        self.results += [float(a) for a in data_samples]

    def compute_metrics(self, results: list) -> dict:
        return {"accuracy": sum(results) / max(len(results), 1)}


@DATASETS.register_module(force=True)
class FirstSamples(torch.utils.data.Dataset):
    """The first ``count`` samples of another dataset (keeps shipped configs small in tests)."""

    def __init__(self, dataset: dict | torch.utils.data.Dataset, count: int) -> None:
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        self.count = min(count, len(self.dataset))
        self.metainfo = getattr(self.dataset, "metainfo", {})

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> Any:
        return self.dataset[index]
