"""MMEngine model around a registered classification network."""

from __future__ import annotations

from typing import Any

from mmengine.model import BaseModel
from mmengine.registry import MODELS
from torch import Tensor
from torch.nn import functional as F


@MODELS.register_module()
class ImageClassifier(BaseModel):
    """Backbone logits; 'loss' mode uses label-smoothed cross entropy."""

    def __init__(
        self,
        backbone: dict,
        label_smoothing: float = 0.1,
        data_preprocessor: dict | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(
                f"label_smoothing must be in [0, 1), got {label_smoothing!r}: it is the share of "
                "each target spread uniformly over the classes (0.1 in the CIFAR configs, 0 for "
                "plain cross entropy); set model.label_smoothing in the config accordingly"
            )
        self.backbone = MODELS.build(backbone)
        self.label_smoothing = label_smoothing

    def forward(
        self, inputs: Tensor, labels: Tensor | None = None, mode: str = "tensor"
    ) -> Tensor | dict[str, Tensor] | list[dict[str, Any]]:
        """'tensor': logits; 'loss': dict(loss=...); 'predict': one dict per sample."""
        logits = self.backbone(inputs)
        if mode == "tensor":
            return logits
        if mode == "loss":
            if labels is None:
                raise ValueError("mode='loss' needs labels")
            loss = F.cross_entropy(
                logits.float(), labels.long(), label_smoothing=self.label_smoothing
            )
            return {"loss": loss}
        if mode == "predict":
            scores = logits.detach().float().cpu()
            targets = [None] * len(scores) if labels is None else labels.detach().cpu().tolist()
            predicted = scores.argmax(dim=1).tolist()
            # each sample's scores own their storage: a view would pickle the whole batch
            return [
                {"scores": score.clone(), "pred_label": label, "gt_label": target}
                for score, label, target in zip(scores, predicted, targets, strict=True)
            ]
        raise ValueError(f"mode must be 'tensor', 'loss' or 'predict', got {mode!r}")
