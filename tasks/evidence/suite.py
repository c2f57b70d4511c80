"""Run every (workload, optimizer, seed, horizon) in worker processes; one JSON line per run.

The output file is the state: a run whose key is already in it is not run again, so an
interrupted suite resumes where it stopped.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from .compared import OptimizerSpec, optimizer_spec
from .progress import Progress
from .trainer import horizon_config, run_settings, train_one, workload_config
from .workloads import Workload

RunKey = tuple[str, str, int, str]
# Relative cost of a step, for scheduling the longest runs first and for the ETA: passes per
# step (SAM 2, the other two-pass methods about 1.3) times the model's cost on a CPU.
_PASSES = {"base": 1.0, "SAM": 2.0, "MomentumSAM": 1.0, "ESAM": 1.8}
_OTHER_TWO_PASS = 1.3
_MODEL_COST = {"small_cnn": 3.0}


def run_key(record: dict[str, Any]) -> RunKey:
    """(workload, optimizer label, seed, horizon) of a record."""
    return record["workload"], record["optimizer"], int(record["seed"]), record["horizon"]


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines file (none if it does not exist); torn last lines skipped."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _init_worker(threads: int, imports: Sequence[str]) -> None:
    torch.set_num_threads(threads)
    for module in imports:
        importlib.import_module(module)


def _run(job: tuple[Workload, OptimizerSpec, int, str]) -> dict[str, Any]:
    return train_one(*job)


def _step_cost(optimizer: str, model: str) -> float:
    return _PASSES.get(optimizer, _OTHER_TWO_PASS) * _MODEL_COST.get(model, 1.0)


def _cost(job: tuple[Workload, OptimizerSpec, int, str]) -> float:
    workload, spec, _, horizon = job
    return workload.steps(horizon) * _step_cost(spec.name, workload.model_at(horizon)[0])


def _record_cost(record: dict[str, Any]) -> float:
    """The relative cost ``_cost`` gave the record's run before it ran."""
    optimizer = record.get("optimizer_name", record["optimizer"])
    return record["steps"] * _step_cost(optimizer, record["model"])


def run_suite(
    workloads: Iterable[Workload],
    optimizers: Iterable[OptimizerSpec | str] | Callable[[Workload, str], list[OptimizerSpec]],
    seeds: Iterable[int],
    horizons: Iterable[str],
    workers: int = 2,
    out: str | Path = "work_dirs/evidence/records.jsonl",
    threads: int = 1,
    imports: Sequence[str] = (),
    verbose: bool = False,
) -> list[dict[str, Any]]:
    """Train every combination not yet in ``out``; all requested records, new and old.

    A stored record counts as done only if it was trained with the settings its horizon uses
    now (``horizon_config``: editing one horizon re-trains that horizon's runs alone) and
    with the optimizer settings a run would have now (``run_settings``: a changed default
    re-trains that optimizer's runs; records without them are trained again).

    ``horizons`` are labels; a workload without one of them skips it. ``optimizers`` may
    also give each (workload, horizon) its own specs (the radius choice's grids). ``imports``
    are modules each worker imports first (e.g. to register more optimizers).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    workloads = list(workloads)
    if callable(optimizers):
        specs_for = optimizers
    else:
        specs = [optimizer_spec(o) for o in optimizers]

        def specs_for(workload: Workload, horizon: str) -> list[OptimizerSpec]:
            return specs

    seeds, horizons = list(seeds), list(horizons)
    configs = {workload.name: workload_config(workload) for workload in workloads}

    def current(record: dict[str, Any]) -> bool:
        stored, now = record.get("workload_config"), configs.get(record["workload"])
        if stored is None or now is None:
            return True
        horizon = record["horizon"]
        return horizon_config(stored, horizon) == horizon_config(now, horizon)

    jobs = [
        (workload, spec, seed, horizon)
        for workload in workloads
        for horizon in horizons
        if horizon in workload.horizons
        for spec in specs_for(workload, horizon)
        for seed in seeds
    ]
    wanted = [(j[0].name, j[1].label, j[2], j[3]) for j in jobs]
    stored = {run_key(r): r for r in read_records(out) if current(r)}
    done = {
        key: stored[key]
        for job, key in zip(jobs, wanted)
        if key in stored and stored[key].get("optimizer_settings") == run_settings(*job)
    }
    todo = sorted((j for j, key in zip(jobs, wanted) if key not in done), key=_cost, reverse=True)
    progress = Progress([_cost(job) for job in todo])
    if verbose:
        print(
            f"{len(todo)} runs to train, {len(jobs) - len(todo)} already in {out}",
            file=sys.stderr,
            flush=True,
        )
    with out.open("a") as sink:

        def keep(record: dict[str, Any]) -> None:
            done[run_key(record)] = record
            sink.write(json.dumps(record) + "\n")
            sink.flush()
            status = progress.advance(_record_cost(record))
            if verbose:
                print(
                    f"{status} {record['workload']} {record['horizon']} {record['optimizer']} "
                    f"seed {record['seed']}: {100 * record['accuracy']:.2f}% "
                    f"{record['passes_per_step']:.3f} passes/step {record['wall_time_s']:.1f}s",
                    file=sys.stderr,
                    flush=True,
                )

        if workers <= 1:
            _init_worker(threads, imports)
            for job in todo:
                keep(_run(job))
        elif todo:
            context = multiprocessing.get_context("spawn")
            with context.Pool(workers, _init_worker, (threads, tuple(imports))) as pool:
                for record in pool.imap_unordered(_run, todo):
                    keep(record)
    return [done[key] for key in wanted]
