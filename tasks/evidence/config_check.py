"""Refuse, before training, an evidence config that names a suite cell's length but not its setup.

A config of ``configs/evidence`` trains one cell of its workload when its run length, its
model and data horizon and its radius (the method's own, tasks/evidence/radius.py) are that
cell's. The length is one option and the rest
are others, so a run started with the length alone would train another setup than the
suite's cell, and say nothing. ``preflight`` (called by tools/train.py for every package a
config imports) names the missing options instead; ``evidence_cell_check=False`` in the config
trains such a variant on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .radius import chosen_radius
from .workloads import WORKLOADS, Workload

# Optimizer wrappers whose optimizer takes a radius (each method its own: radius.py).
TWO_PASS_WRAPPERS = ("SAMOptimWrapper",)


def cell_at(workload: Workload, steps: Any) -> str | None:
    """The label of the workload's horizon that runs ``steps`` steps, if any."""
    for label in workload.horizons:
        if workload.steps(label) == steps:
            return label
    return None


def missing_cell_options(cfg: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """(cell, the --cfg-options that would make ``cfg`` train that suite cell); none if it does."""
    model = cfg.get("model") or {}
    if model.get("type") != "EvidenceClassifier" or model.get("workload") not in WORKLOADS:
        return None, {}
    workload = WORKLOADS[model["workload"]]
    cell = cell_at(workload, (cfg.get("train_cfg") or {}).get("max_iters"))
    if cell is None:
        return None, {}
    options: dict[str, Any] = {}
    if workload.model_at(model.get("horizon")) != workload.model_at(cell):
        options["model.horizon"] = cell
    dataset = (cfg.get("train_dataloader") or {}).get("dataset") or {}
    if workload.data_at(dataset.get("horizon")) != workload.data_at(cell):
        options["train_dataloader.dataset.horizon"] = cell
    wrapper = cfg.get("optim_wrapper") or {}
    optimizer = wrapper.get("optimizer") or {}
    radius = chosen_radius(workload, cell, optimizer.get("type"))
    if wrapper.get("type") in TWO_PASS_WRAPPERS and optimizer.get("rho") != radius:
        options["optim_wrapper.optimizer.rho"] = radius
    return cell, options


def preflight(cfg: Mapping[str, Any], stage: str = "train") -> None:
    """Raise ValueError, in one paragraph, if ``cfg`` has a suite cell's length, not its setup."""
    if stage != "train" or not cfg.get("evidence_cell_check", True):
        return
    cell, options = missing_cell_options(cfg)
    if not options:
        return
    workload = cfg["model"]["workload"]
    listed = " ".join(f"{key}={value}" for key, value in options.items())
    raise ValueError(
        f"train_cfg.max_iters={cfg['train_cfg']['max_iters']} is the {cell} cell of the evidence "
        f"workload {workload} (tasks/evidence/workloads.py), but this config's "
        f"{', '.join(options)} are not that cell's, so the run would not be the suite's. Add "
        f"--cfg-options {listed} to train the cell (the config's header lists each horizon's "
        f"options), or evidence_cell_check=False to train this variant on purpose."
    )
