"""Top-k accuracy over the per-sample predictions of ``ImageClassifier``, by torchmetrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS
from torchmetrics.functional.classification import multiclass_accuracy

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
        """Keep each sample's scores and label (one result per sample, as MMEngine gathers them)."""
        for sample in data_samples:
            scores = torch.as_tensor(sample["scores"], dtype=torch.float32)
            self.results.append((scores, int(sample["gt_label"])))

    def compute_metrics(self, results: list) -> dict[str, float]:
        """Percentage of samples whose label is within each top-k."""
        scores = torch.stack([scores for scores, _ in results])
        labels = torch.tensor([label for _, label in results])
        classes = scores.shape[1]
        return {
            f"top{k}": 100
            * float(
                multiclass_accuracy(scores, labels, classes, top_k=min(k, classes), average="micro")
            )
            for k in self.topk
        }
