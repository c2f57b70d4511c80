"""Top-k accuracy over the per-sample predictions of ``ImageClassifier``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS

TOP1_KEY = "accuracy/top1"


@METRICS.register_module()
class Accuracy(BaseMetric):
    """Reports ``accuracy/top1`` (and ``accuracy/top{k}`` for each further k) in percent."""

    default_prefix = "accuracy"

    def __init__(
        self,
        topk: Sequence[int] = (1,),
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = tuple(sorted(set(int(k) for k in topk)))
        if not self.topk or self.topk[0] < 1:
            raise ValueError(f"topk must hold positive integers, got {topk!r}")

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Record, per sample, whether the label is within each top-k."""
        for sample in data_samples:
            scores = torch.as_tensor(sample["scores"])
            label = int(sample["gt_label"])
            ranked = scores.argsort(descending=True).tolist()
            self.results.append([label in ranked[:k] for k in self.topk])

    def compute_metrics(self, results: list) -> dict[str, float]:
        """Percentage of samples whose label is within each top-k."""
        hits = torch.tensor(results, dtype=torch.float64).reshape(-1, len(self.topk))
        return {f"top{k}": float(hits[:, i].mean() * 100) for i, k in enumerate(self.topk)}
