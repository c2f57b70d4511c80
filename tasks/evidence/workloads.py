"""The evidence workloads: data, model, base optimizer, hyper-parameters and horizons."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .data import DataSpec


@dataclass(frozen=True)
class Horizon:
    """A run length, optionally with its own model, data and SAM radius (None: the workload's).

    A horizon that trains another model or other data carries that model's radius: rho is
    chosen per model and data, on SAM alone (docs/benchmarks.md, "The radius, per model and
    data").
    """

    steps: int
    model: str | None = None
    model_kwargs: Mapping[str, Any] | None = None
    data: DataSpec | None = None
    rho: float | None = None


@dataclass(frozen=True)
class Workload:
    """One training problem; every optimizer trains it with the same settings.

    Attributes:
        name: identifier used in records and on the command line.
        data: the images and label noise.
        model: 'mlp' or 'small_cnn' (``arsam.tasks.evidence.models``) and its ``model_kwargs``.
        base: 'SGD' or 'Adam', with ``base_kwargs`` (momentum, weight decay...; not lr).
        lr: peak learning rate of the per-step cosine schedule (to 0 at the last step).
        batch_size: images per step, drawn without replacement within each epoch.
        rho: SAM's radius for the workload's own model and data, shared by every two-pass
            method.
        horizons: label -> number of steps, or a ``Horizon`` (steps and overrides of the
            model, the data and rho).
        flush_denormals: train with subnormal floats flushed to zero. On a CPU an operation
            on subnormal operands is many times slower, and the weights of units that stop
            learning (and Adam's first moments of them) reach them in long runs
            (docs/benchmarks.md).
    """

    name: str
    data: DataSpec
    model: str
    base: str
    lr: float
    batch_size: int
    rho: float
    horizons: Mapping[str, int | Horizon]
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    base_kwargs: Mapping[str, Any] = field(default_factory=dict)
    flush_denormals: bool = True

    def steps(self, horizon: str) -> int:
        """Number of steps of ``horizon``."""
        value = self.horizons[horizon]
        return value.steps if isinstance(value, Horizon) else value

    def model_at(self, horizon: str | None) -> tuple[str, Mapping[str, Any]]:
        """The model name and keyword arguments used at ``horizon`` (None: the workload's own)."""
        value = self.horizons.get(horizon) if horizon is not None else None
        if isinstance(value, Horizon) and value.model is not None:
            return value.model, value.model_kwargs or {}
        return self.model, self.model_kwargs

    def rho_at(self, horizon: str) -> float:
        """SAM's radius at ``horizon``: the horizon's own, else the workload's."""
        value = self.horizons[horizon]
        if isinstance(value, Horizon) and value.rho is not None:
            return value.rho
        return self.rho

    def data_at(self, horizon: str | None) -> DataSpec:
        """The data used at ``horizon`` (None: the workload's own)."""
        value = self.horizons.get(horizon) if horizon is not None else None
        if isinstance(value, Horizon) and value.data is not None:
            return value.data
        return self.data


HORIZONS: dict[str, int | Horizon] = {"1k": 1_000, "10k": 10_000, "50k": 50_000}
HORIZON_NAMES = tuple(HORIZONS)
QUICK_HORIZONS = ("1k",)
# MLPs: all 1347 training digits with 40% of their labels moved to another class, batch 128,
# weight decay 5e-3: the base optimizer fits part of the noisy labels, SAM stays near the clean
# ones. The CNN: 400 of them at 1k, same noise. rho is SAM's best radius for each model and
# data: the grid value (0.3, 0.45, 0.6, 0.75, 0.9, 1.2) with SAM's highest mean accuracy over 3
# seeds where that model and data train (the MLPs and the CNN on all digits at 10k, the CNN
# on 400 digits at 1k, the MLP with BatchNorm at 50k), chosen on SAM alone and shared by every
# method (docs/benchmarks.md, "The radius, per model and data"). The base optimizers run
# fused (one kernel per step; on a CPU torch's default is a Python loop over the parameters):
# same update, less per-step cost.
SAM_RADIUS = 0.6
NOISY_DIGITS = DataSpec("digits", label_noise=0.4)

WORKLOADS: dict[str, Workload] = {
    workload.name: workload
    for workload in (
        Workload(
            name="digits_mlp_sgd",
            data=NOISY_DIGITS,
            model="mlp",
            model_kwargs={"hidden": 64},
            base="SGD",
            base_kwargs={"momentum": 0.9, "weight_decay": 5e-3, "fused": True},
            lr=0.05,
            batch_size=128,
            rho=SAM_RADIUS,
            horizons=HORIZONS,
        ),
        Workload(
            name="digits_mlp_adam",
            data=NOISY_DIGITS,
            model="mlp",
            model_kwargs={"hidden": 64},
            base="Adam",
            base_kwargs={"weight_decay": 5e-3, "fused": True},
            lr=5e-3,
            batch_size=128,
            rho=SAM_RADIUS,
            horizons=HORIZONS,
        ),
        Workload(
            name="digits_cnn_bn_sgd",
            data=DataSpec("digits", train_size=400, label_noise=0.4),
            model="small_cnn",
            model_kwargs={"width": 8},
            base="SGD",
            base_kwargs={"momentum": 0.9, "weight_decay": 5e-4, "fused": True},
            lr=0.05,
            batch_size=32,
            rho=0.45,  # the CNN on the 400 digits
            # Past 1k steps the 400 digits are memorised by SGD and SAM alike and the seeds'
            # label noise spreads both over 5 points: the 10k run trains the CNN on all 1347
            # digits. A CNN step costs about 4x an MLP step on a CPU: the 50k run uses a small
            # MLP with BatchNorm instead, on all 1347 digits too (docs/benchmarks.md).
            horizons={
                "1k": 1_000,
                "10k": Horizon(10_000, data=NOISY_DIGITS, rho=SAM_RADIUS),
                "50k": Horizon(
                    50_000, "mlp", {"hidden": 32, "batch_norm": True}, NOISY_DIGITS, rho=0.9
                ),
            },
        ),
    )
}


def get_workload(name: str) -> Workload:
    """The workload called ``name``."""
    if name not in WORKLOADS:
        raise ValueError(f"unknown workload {name!r}; known: {', '.join(WORKLOADS)}")
    return WORKLOADS[name]
