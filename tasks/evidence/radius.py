"""Each method's own radius, chosen by one rule fixed before any of its runs.

The rule (docs/benchmarks.md, "Each method at its own radius"):

- **Grid, in the method's own units**, around the cell's SAM radius r (``Workload.rho_at``,
  chosen earlier on SAM alone): r x {1/4, 1/2, 1, 2, 4} for every method whose rho is SAM's
  (the length of a step along the normalised gradient: SAM, both ARSAMs, the peers, ESAM);
  r x {1/2, 1, 2, 4, 8} for Momentum-SAM, whose rho is a length along the normalised
  momentum (its official configs use 3 where SAM uses 0.2: 15 times SAM's; on our
  digits a pilot on the selection seeds found its best at 2 r, so its grid starts lower).
- **Selection runs** on seeds 100 and 101, disjoint from the reported seeds 0, 1 and 2,
  with the cell's model, data and base optimizer, for min(steps, 10 000) steps: a cell of
  50 000 steps selects on a held-out horizon of 10 000 with its own model and data. (A
  first run of the rule selected on 2 000 steps; SAM's radius chosen there for the
  BatchNorm MLP's 50k cell left SAM 12 points below its radius chosen at 50k, so the
  horizon went back to 10 000: docs/benchmarks.md, "Each method at its own radius".)
- **Choice**: the grid value with the highest mean test accuracy over the two selection
  seeds; a tie goes to the smaller radius. A choice at an end of the grid extends the grid
  by one factor of 2 beyond that end, up to twice; a choice still at the end is reported
  as such (the grid may have cut the method short there).

``CHOSEN`` records the result of ``tools/compare.py --suite --choose-radius``; the suite
trains every method at its chosen radius, and at SAM's where none is recorded.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from .compared import BASE, OptimizerSpec, optimizer_spec
from .workloads import Horizon, Workload

SELECTION_SEEDS = (100, 101)
SELECTION_MAX_STEPS = 10_000
SAM_UNIT_GRID = (0.25, 0.5, 1.0, 2.0, 4.0)
# multiples of SAM's radius, per method whose rho has other units than SAM's
OWN_UNIT_GRIDS: dict[str, tuple[float, ...]] = {"MomentumSAM": (0.5, 1.0, 2.0, 4.0, 8.0)}
EXTENSIONS = 2
# The recorded choice: (workload, horizon) -> method -> rho, from
# `tools/compare.py --suite --choose-radius --out work_dirs/radius10k` (2026-12-06; ARSAM's
# runs again after its reuse decay became 0.7; docs/benchmarks.md, "Each method at its own
# radius").
CHOSEN: dict[tuple[str, str], dict[str, float]] = {
    ("digits_mlp_sgd", "1k"): {
        "AESAM": 0.6,
        "ARSAM": 1.2,
        "ARSAMPaper": 0.6,
        "ESAM": 0.3,
        "LateSAM": 1.2,
        "LookSAM": 0.6,
        "MomentumSAM": 1.2,
        "RandomSAM": 1.2,
        "SAM": 0.3,
        "SAMK": 1.2,
    },
    ("digits_mlp_sgd", "10k"): {
        "AESAM": 1.2,
        "ARSAM": 0.6,
        "ARSAMPaper": 0.6,
        "ESAM": 0.3,
        "LateSAM": 1.2,
        "LookSAM": 0.6,
        "MomentumSAM": 1.2,
        "RandomSAM": 1.2,
        "SAM": 0.3,
        "SAMK": 1.2,
    },
    ("digits_mlp_sgd", "50k"): {
        "AESAM": 1.2,
        "ARSAM": 0.6,
        "ARSAMPaper": 0.6,
        "ESAM": 0.3,
        "LateSAM": 1.2,
        "LookSAM": 0.6,
        "MomentumSAM": 1.2,
        "RandomSAM": 1.2,
        "SAM": 0.3,
        "SAMK": 1.2,
    },
    ("digits_mlp_adam", "1k"): {
        "AESAM": 0.6,
        "ARSAM": 2.4,
        "ARSAMPaper": 1.2,
        "ESAM": 0.15,
        "LateSAM": 1.2,
        "LookSAM": 0.15,
        "MomentumSAM": 1.2,
        "RandomSAM": 1.2,
        "SAM": 0.3,
        "SAMK": 1.2,
    },
    ("digits_mlp_adam", "10k"): {
        "AESAM": 1.2,
        "ARSAM": 1.2,
        "ARSAMPaper": 1.2,
        "ESAM": 0.6,
        "LateSAM": 1.2,
        "LookSAM": 0.3,
        "MomentumSAM": 1.2,
        "RandomSAM": 1.2,
        "SAM": 0.3,
        "SAMK": 2.4,
    },
    ("digits_mlp_adam", "50k"): {
        "AESAM": 1.2,
        "ARSAM": 1.2,
        "ARSAMPaper": 1.2,
        "ESAM": 0.6,
        "LateSAM": 1.2,
        "LookSAM": 0.3,
        "MomentumSAM": 1.2,
        "RandomSAM": 1.2,
        "SAM": 0.3,
        "SAMK": 2.4,
    },
    ("digits_cnn_bn_sgd", "1k"): {
        "AESAM": 0.45,
        "ARSAM": 0.9,
        "ARSAMPaper": 1.8,
        "ESAM": 0.1125,
        "LateSAM": 0.9,
        "LookSAM": 0.028125,
        "MomentumSAM": 0.9,
        "RandomSAM": 0.9,
        "SAM": 0.45,
        "SAMK": 1.8,
    },
    ("digits_cnn_bn_sgd", "10k"): {
        "AESAM": 1.2,
        "ARSAM": 4.8,
        "ARSAMPaper": 2.4,
        "ESAM": 0.6,
        "LateSAM": 1.2,
        "LookSAM": 0.6,
        "MomentumSAM": 2.4,
        "RandomSAM": 1.2,
        "SAM": 0.6,
        "SAMK": 2.4,
    },
    ("digits_cnn_bn_sgd", "50k"): {
        "AESAM": 1.8,
        "ARSAM": 3.6,
        "ARSAMPaper": 1.8,
        "ESAM": 0.9,
        "LateSAM": 1.8,
        "LookSAM": 0.225,
        "MomentumSAM": 3.6,
        "RandomSAM": 1.8,
        "SAM": 0.9,
        "SAMK": 3.6,
    },
}


def grid(method: str, sam_radius: float, extended: Iterable[float] = ()) -> list[float]:
    """The radii ``method`` is tried at in a cell whose SAM radius is ``sam_radius``.

    ``extended``: multiples of ``sam_radius`` added beyond the grid's ends by the rule.
    """
    multiples = sorted({*OWN_UNIT_GRIDS.get(method, SAM_UNIT_GRID), *extended})
    return [round(sam_radius * m, 6) for m in multiples]


def extension(cell: Mapping[str, Any]) -> float | None:
    """The multiple of SAM's radius the rule adds next for a ``choose`` cell, or None."""
    if not cell["at_edge"] or len(cell["points"]) >= 5 + EXTENSIONS:
        return None
    factor = 0.5 if cell["rho"] == cell["points"][0][0] else 2.0
    return round(cell["rho"] * factor / cell["sam_radius"], 6)


def chosen_radius(workload: Workload, horizon: str, method: str) -> float:
    """The radius ``method`` trains with at (workload, horizon): its recorded choice, or SAM's."""
    return CHOSEN.get((workload.name, horizon), {}).get(method, workload.rho_at(horizon))


def selection_horizons(workload: Workload) -> dict[str, str]:
    """Each horizon's label -> the label of the selection run it shares.

    Horizons whose selection runs would be identical (the same model and data for the
    same number of steps, e.g. an MLP's 10k and 50k) share the first one's.
    """
    shared: dict[str, str] = {}
    seen: dict[str, str] = {}
    for label in workload.horizons:
        key = repr(selection_horizon(workload, label))
        shared[label] = seen.setdefault(key, label)
    return shared


def selection_horizon(workload: Workload, horizon: str) -> Horizon:
    """The cell's model, data and radius for min(steps, SELECTION_MAX_STEPS) steps."""
    model, model_kwargs = workload.model_at(horizon)
    return Horizon(
        min(workload.steps(horizon), SELECTION_MAX_STEPS),
        model,
        dict(model_kwargs),
        workload.data_at(horizon),
        workload.rho_at(horizon),
    )


def selection_workload(workload: Workload) -> Workload:
    """``workload`` with each horizon that runs its own selection replaced by the selection run."""
    shared = selection_horizons(workload)
    horizons = {
        label: selection_horizon(workload, label)
        for label in workload.horizons
        if shared[label] == label
    }
    return dataclasses.replace(workload, horizons=horizons)


def selection_specs(
    workload: Workload,
    horizon: str,
    methods: Iterable[str],
    extended: Mapping[tuple[str, str, str], Iterable[float]] | None = None,
) -> list[OptimizerSpec]:
    """One spec per (method, grid radius) of the cell, labelled 'method rho=value'.

    ``extended``: (workload, horizon, method) -> multiples the rule added (``extension``).
    """
    specs = []
    for method in methods:
        if method == BASE:
            continue
        default = optimizer_spec(method)
        added = (extended or {}).get((workload.name, horizon, method), ())
        for rho in grid(method, workload.rho_at(horizon), added):
            specs.append(
                OptimizerSpec(f"{method} rho={rho:g}", method, {**default.kwargs, "rho": rho})
            )
    return specs


def choose(records: Iterable[Mapping[str, Any]], workloads: Iterable[Workload]) -> dict[str, Any]:
    """The rule applied to selection records: per cell and method, the grid and the choice."""
    accuracy: dict[tuple[str, str, str, float], list[float]] = defaultdict(list)
    for record in records:
        rho = record["optimizer_kwargs"]["rho"]
        key = (record["workload"], record["horizon"], record["optimizer_name"], rho)
        accuracy[key].append(100.0 * record["accuracy"])
    cells = []
    for workload in workloads:
        for label, selected_at in selection_horizons(workload).items():
            methods = sorted({k[2] for k in accuracy if k[:2] == (workload.name, selected_at)})
            for method in methods:
                points = sorted(
                    (k[3], statistics.fmean(v))
                    for k, v in accuracy.items()
                    if k[:3] == (workload.name, selected_at, method)
                )
                best = max(points, key=lambda p: (p[1], -p[0]))
                cells.append(
                    {
                        "workload": workload.name,
                        "horizon": label,
                        "selected_at": selected_at,
                        "selection_steps": selection_horizon(workload, label).steps,
                        "method": method,
                        "sam_radius": workload.rho_at(label),
                        "points": points,
                        "rho": best[0],
                        "at_edge": best[0] in (points[0][0], points[-1][0]),
                    }
                )
    return {"seeds": list(SELECTION_SEEDS), "cells": cells}


def chosen_table(choice: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, float]]:
    """``choose``'s result in ``CHOSEN``'s shape."""
    table: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for cell in choice["cells"]:
        table[cell["workload"], cell["horizon"]][cell["method"]] = cell["rho"]
    return dict(table)
