"""How long a suite takes here: each (workload model, optimizer) timed on a short run, scaled."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from .compared import OptimizerSpec, optimizer_spec
from .trainer import train_one
from .workloads import Horizon, Workload


def time_per_step(
    workload: Workload, optimizer: OptimizerSpec | str, horizon: str, steps: int = 300
) -> float:
    """Seconds per step of ``optimizer`` on the model ``workload`` trains at ``horizon``."""
    model, kwargs = workload.model_at(horizon)
    probe_horizon = Horizon(steps, model, kwargs, workload.data_at(horizon))
    probe = dataclasses.replace(workload, horizons={"probe": probe_horizon})
    train_one(probe, optimizer, seed=0, horizon="probe")  # warm-up: imports, allocator, data
    return train_one(probe, optimizer, seed=0, horizon="probe")["wall_time_s"] / steps


def estimate_suite(
    workloads: Iterable[Workload],
    optimizers: Sequence[OptimizerSpec | str],
    seeds: int,
    horizons: Sequence[str],
    workers: int = 2,
    steps: int = 300,
) -> dict[str, Any]:
    """Projected wall time of the suite on ``workers`` idle cores, from one timing per cell kind.

    Each (workload, model, optimizer) is timed once in this process (one thread); a run
    costs its steps times that, and the runs are shared out perfectly between the workers.
    """
    torch.set_num_threads(1)
    rows, total = [], 0.0
    for workload in workloads:
        per_model: dict[tuple[str, str], float] = {}
        for horizon in [h for h in horizons if h in workload.horizons]:
            model = workload.model_at(horizon)[0]
            for item in optimizers:
                spec = optimizer_spec(item)
                key = (model, spec.label)
                if key not in per_model:
                    per_model[key] = time_per_step(workload, spec, horizon, steps)
                seconds = per_model[key] * workload.steps(horizon) * seeds
                total += seconds
                rows.append(
                    {
                        "workload": workload.name,
                        "horizon": horizon,
                        "optimizer": spec.label,
                        "ms_per_step": 1e3 * per_model[key],
                        "seconds": seconds,
                    }
                )
    return {"runs_seconds": total, "wall_seconds": total / max(workers, 1), "rows": rows}
