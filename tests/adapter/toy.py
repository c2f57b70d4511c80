"""A toy MMEngine model and dataset for the adapter tests, registered on import."""

from __future__ import annotations

import torch
from mmengine.dataset import BaseDataset
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, MODELS
from torch import nn


@MODELS.register_module(force=True)
class AdapterToyModel(BaseModel):
    """A small BatchNorm classifier that counts its training-mode loss forwards."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(4, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Linear(width, 3)
        )
        self.loss_forwards = 0

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor, mode: str = "tensor", **_):
        logits = self.net(inputs)
        if mode == "loss":
            self.loss_forwards += 1
            return {"loss": nn.functional.cross_entropy(logits, labels)}
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
