"""The evidence workloads as MMEngine parts: tools/train.py trains what ``train_one`` does.

Configs (``configs/evidence/``) import this module; every part takes the workload's name and
reads its settings from ``workloads.WORKLOADS``. Step for step, a run is ``trainer.train_one``:

- ``EvidenceDataset``: the workload's tensors (``load_tensors``), labels noised with the run's seed;
- ``EvidenceSampler``: MMEngine's ``InfiniteSampler`` with each epoch's permutation cut to whole
  batches, the order of ``trainer.batch_indices``;
- ``EvidenceClassifier``: the workload's network (``build_model``, initialised right after seeding
  torch with the run's seed) with cross-entropy loss, and per-sample scores for ``Accuracy``;
- ``ClosedFormCosineLR``: MMEngine's ``CosineAnnealingLR`` evaluated in closed form at every step
  (``trainer.cosine_lr``), where MMEngine's own is recursive and drifts in the last bits;
- ``FlushDenormalsHook``: training and its final evaluation with subnormal floats flushed to zero
  when the workload says so, as ``train_one`` runs them.

The run's seed is ``randomness.seed``: MMEngine's Runner seeds torch with it before it builds the
model and the data, so a part given no ``seed`` reads it back with ``torch.initial_seed()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from mmengine.dataset import InfiniteSampler
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.optim.scheduler import CosineAnnealingLR
from mmengine.registry import DATA_SAMPLERS, DATASETS, HOOKS, MODELS, PARAM_SCHEDULERS
from torch import Tensor
from torch.nn import functional
from torch.utils.data import Dataset

from .config_check import preflight as preflight  # tools/train.py calls it before training
from .data import load_tensors
from .models import build_model
from .trainer import batches_per_epoch, cosine_lr
from .workloads import Workload, get_workload

SPLITS = ("train", "test")


def run_seed(seed: int | None = None) -> int:
    """``seed``, or else the run's: the seed MMEngine's Runner last gave torch."""
    return torch.initial_seed() if seed is None else int(seed)


def check_horizon(workload: Workload, horizon: str | None) -> None:
    """Raise ValueError unless ``horizon`` is None or one of the workload's horizon labels."""
    if horizon is not None and horizon not in workload.horizons:
        known = ", ".join(workload.horizons)
        raise ValueError(f"{workload.name} has no horizon {horizon!r}; known: {known}")


@DATASETS.register_module()
class EvidenceDataset(Dataset):
    """One split of a workload's tensors; samples are ``dict(inputs=image, labels=label)``.

    Args:
        workload: a name in ``arsam.tasks.evidence.WORKLOADS``.
        split: 'train' (labels noised as the workload says) or 'test' (clean labels).
        seed: seed of the label noise; None: the run's seed.
        horizon: a label of the workload's horizons whose data to load (a long horizon may
            use other data); None: the workload's own.
    """

    def __init__(
        self,
        workload: str,
        split: str = "train",
        seed: int | None = None,
        horizon: str | None = None,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
        self.workload = get_workload(workload)
        check_horizon(self.workload, horizon)
        data = load_tensors(self.workload.data_at(horizon), run_seed(seed))
        train = split == "train"
        self.inputs = data.x_train if train else data.x_test
        self.labels = data.y_train if train else data.y_test
        self.metainfo = {"classes": tuple(str(c) for c in range(data.num_classes))}

    def __len__(self) -> int:
        """Number of samples in the split."""
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        """The normalised image and its label."""
        return {"inputs": self.inputs[index], "labels": self.labels[index]}


@DATA_SAMPLERS.register_module()
class EvidenceSampler(InfiniteSampler):
    """Successive random permutations of the dataset, each cut to whole batches, without end.

    Args:
        dataset: the training set; an ``EvidenceDataset`` when ``batch_size`` is None.
        batch_size: the loader's batch size; None: the dataset's workload's.
        seed: seed of the permutations (MMEngine passes the run's seed).
    """

    def __init__(self, dataset: Dataset, batch_size: int | None = None, seed: int | None = None):
        super().__init__(dataset, shuffle=True, seed=seed)
        if batch_size is None and not isinstance(dataset, EvidenceDataset):
            raise TypeError(
                "EvidenceSampler needs a batch_size unless its dataset is an EvidenceDataset"
            )
        self.batch_size = batch_size or dataset.workload.batch_size

    def __len__(self) -> int:
        """Samples per epoch: the whole batches of one permutation."""
        return batches_per_epoch(self.size, self.batch_size) * self.batch_size

    def _infinite_indices(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed)
        while True:
            yield from torch.randperm(self.size, generator=generator)[: len(self)].tolist()


@MODELS.register_module()
class EvidenceClassifier(BaseModel):
    """The workload's network; 'loss' is cross entropy, 'predict' one dict per sample.

    Args:
        workload: a name in ``arsam.tasks.evidence.WORKLOADS``.
        horizon: a label of the workload's horizons whose model to build (a long horizon may
            use a smaller one); None: the workload's own model.
        seed: torch is seeded with it right before the network is built; None: the run's seed.
    """

    def __init__(
        self,
        workload: str,
        horizon: str | None = None,
        seed: int | None = None,
        data_preprocessor: dict | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        spec = get_workload(workload)
        check_horizon(spec, horizon)
        name, kwargs = spec.model_at(horizon)
        seed = run_seed(seed)
        data = load_tensors(spec.data_at(horizon), seed)
        torch.manual_seed(seed)
        self.network = build_model(name, data.in_shape, data.num_classes, **kwargs)

    def forward(
        self, inputs: Tensor, labels: Tensor | None = None, mode: str = "tensor"
    ) -> Tensor | dict[str, Tensor] | list[dict[str, Any]]:
        """'tensor': logits; 'loss': dict(loss=cross entropy); 'predict': scores and labels."""
        logits = self.network(inputs)
        if mode == "tensor":
            return logits
        if mode == "loss":
            if labels is None:
                raise ValueError("mode='loss' needs labels")
            return {"loss": functional.cross_entropy(logits, labels)}
        if mode == "predict":
            scores = logits.detach().float().cpu()
            targets = [None] * len(scores) if labels is None else labels.cpu().tolist()
            return [
                {"scores": score, "pred_label": int(score.argmax()), "gt_label": target}
                for score, target in zip(scores, targets, strict=True)
            ]
        raise ValueError(f"mode must be 'tensor', 'loss' or 'predict', got {mode!r}")


@PARAM_SCHEDULERS.register_module()
class ClosedFormCosineLR(CosineAnnealingLR):
    """``CosineAnnealingLR`` whose every value is the closed form, equal to ``cosine_lr``."""

    def _get_value(self) -> list[float]:
        values = []
        for base in self.base_values:
            floor = self.eta_min if self.eta_min_ratio is None else base * self.eta_min_ratio
            values.append(floor + cosine_lr(base - floor, self.last_step, self.T_max))
        return values


@HOOKS.register_module()
class FlushDenormalsHook(Hook):
    """Train (and validate) with subnormal floats flushed to zero if the workload says so."""

    def __init__(self, workload: str) -> None:
        self.flush = get_workload(workload).flush_denormals

    def before_train(self, runner: Any) -> None:
        """Flush from the first step, as ``train_one`` does."""
        torch.set_flush_denormal(self.flush)

    def after_train(self, runner: Any) -> None:
        """Back to torch's default once training (and its last validation) ended."""
        torch.set_flush_denormal(False)
