"""Accuracy against cost: one classification config trained with each optimizer and seed.

Every run goes through the training entry (``load_config``, ``build_runner``)
in this process, in its own work directory. The base run (``base``), SAM and ARSAM
use the config files ``<prefix>_sgd.py`` (or ``_adam.py``, ``_adamw.py``),
``<prefix>_sam.py`` and ``<prefix>_arsam.py``; the other methods use
``<prefix>_sam.py`` with ``optim_wrapper.optimizer`` replaced.
Each run also records its accuracy curve against training time and
forward-backward passes (``TrainingCurveHook``).
"""

from __future__ import annotations

import copy
import logging
import math
import os
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mmengine.config import Config
from mmengine.registry import DATASETS

from arsam.core.registry import TWO_PASS_METHODS
from arsam.tasks.benchmarks.training_curve import CURVE_FILE
from arsam.tasks.evidence.compared import (
    BASE,
    BASE_OPTIMIZERS,
    check_names,
    is_two_pass,
    suite_optimizers,
)
from arsam.tasks.evidence.progress import Progress
from arsam.tools.analysis_tools.work_dir_logs import read_records, telemetry_series
from arsam.tools.cli import (
    UserError,
    build_runner,
    check_optimizer,
    load_config,
    run_preflight_checks,
    user_errors,
)

from .tables import read_json, write_json

DEFAULT_PREFIX = os.path.join("configs", "classification", "digits")
TOP1 = "accuracy/top1"


@dataclass
class CompareSettings:
    """What the comparison trains and where it writes."""

    config_prefix: str = DEFAULT_PREFIX
    optimizers: list[str] = field(default_factory=lambda: list(suite_optimizers()))
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    label_noise: float = 0.0
    quick: bool = False
    out: str = os.path.join("work_dirs", "compare")
    cfg_options: dict[str, Any] = field(default_factory=dict)
    optimizer_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    metric: str = TOP1
    skip_existing: bool = False


def config_path(prefix: str, name: str) -> str:
    """The config file that trains ``name``: its own file, else the SAM one for other methods.

    The base run's file is named after its optimizer (the first of ``<prefix>_sgd.py``,
    ``_adam.py`` and ``_adamw.py`` that exists); a method's is ``<prefix>_arsam.py`` or
    ``<prefix>_arsam_paper.py`` style (its name in lower or snake case).
    """
    if name == BASE:
        candidates = [f"{prefix}_{base.lower()}.py" for base in BASE_OPTIMIZERS]
        return next((path for path in candidates if os.path.isfile(path)), candidates[0])
    snake = re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", name).lower()
    candidates = [f"{prefix}_{name.lower()}.py", f"{prefix}_{snake}.py"]
    return next((path for path in candidates if os.path.isfile(path)), f"{prefix}_sam.py")


def takes(name: str, argument: str) -> bool:
    """Whether method ``name``'s constructor takes ``argument`` (total_steps, seed...)."""
    return is_two_pass(name) and TWO_PASS_METHODS[name].accepts(argument)


def method_config(
    name: str,
    base: dict[str, Any],
    rho: float,
    total_steps: int | None,
    options: dict[str, Any],
) -> dict[str, Any]:
    """The ``optim_wrapper.optimizer`` config of method ``name`` around the ``base`` config."""
    config: dict[str, Any] = {"type": name, "base_optimizer": copy.deepcopy(base), "rho": rho}
    if total_steps is not None:
        config["total_steps"] = int(total_steps)
    config.update(options)
    if "warmup_steps" in config:
        config.pop("warmup_epochs", None)
    return config


def run_name(name: str, seed: int) -> str:
    """The work directory name of one run."""
    return f"{name.lower()}_seed{seed}"


def steps_per_epoch(cfg: Config) -> int:
    """Length of the training loader: the dataset size over the batch size."""
    loader = cfg.train_dataloader
    dataset = DATASETS.build(copy.deepcopy(loader.dataset))
    size, batch = len(dataset), int(loader.batch_size)
    return size // batch if loader.get("drop_last", False) else math.ceil(size / batch)


def total_steps(cfg: Config) -> int:
    """Optimizer steps of the whole run: max_epochs x steps per epoch, or max_iters."""
    train_cfg = cfg.train_cfg
    if train_cfg.get("max_iters") is not None:
        return int(train_cfg.max_iters)
    return int(train_cfg.max_epochs) * steps_per_epoch(cfg)


def _optimizer_override(cfg: Config, name: str, seed: int, settings: CompareSettings) -> dict:
    """The ``optim_wrapper.optimizer`` dict for optimizer ``name`` in this run."""
    current = copy.deepcopy(cfg.optim_wrapper.optimizer.to_dict())
    options = dict(settings.optimizer_options.get(name, {}))
    if takes(name, "seed"):
        options.setdefault("seed", seed)
    if name != BASE and current.get("type") != name:
        if "base_optimizer" not in current:
            raise UserError(
                f"{name} is built from the SAM config's optimizer, which needs a base_optimizer; "
                f"got {current!r}"
            )
        # The config's method arguments (adaptive, eps, ...) carry over where ``name`` takes them.
        shared = {
            k: v
            for k, v in current.items()
            if k not in ("type", "base_optimizer", "rho") and takes(name, k)
        }
        steps = total_steps(cfg) if takes(name, "total_steps") else None
        return method_config(
            name,
            current["base_optimizer"],
            current.get("rho", 0.05),
            steps,
            {**shared, **options},
        )
    if takes(name, "total_steps") and "total_steps" not in current:
        options.setdefault("total_steps", total_steps(cfg))
    current.update(options)
    if "warmup_steps" in options:
        current.pop("warmup_epochs", None)
    return current


def prepare_config(settings: CompareSettings, name: str, seed: int) -> Config:
    """The loaded config of one run, with the optimizer, seed, noise and curve hook applied."""
    work_dir = os.path.join(settings.out, "runs", run_name(name, seed))
    options: dict[str, Any] = {"train_cfg.max_epochs": 1} if settings.quick else {}
    options.update(settings.cfg_options)
    cfg = load_config(
        config_path(settings.config_prefix, name), work_dir=work_dir, cfg_options=options
    )
    optimizer = _optimizer_override(cfg, name, seed, settings)
    cfg.merge_from_dict({"optim_wrapper.optimizer": dict(optimizer, _delete_=True)})
    check_optimizer(cfg)
    cfg.randomness = dict(cfg.get("randomness") or {}, seed=seed)
    if settings.label_noise > 0:
        cfg.train_dataloader.dataset = dict(
            type="NoisyLabelDataset",
            dataset=cfg.train_dataloader.dataset,
            noise_rate=settings.label_noise,
            seed=seed,
        )
    imports = dict(cfg.get("custom_imports") or {"imports": []})
    imports["imports"] = [*imports.get("imports", []), "arsam.tasks.benchmarks"]
    cfg.custom_imports = imports
    cfg.custom_hooks = [*(cfg.get("custom_hooks") or []), dict(type="TrainingCurveHook")]
    cfg.experiment_name = f"{run_name(name, seed)}_{uuid.uuid4().hex[:8]}"
    return cfg


def _close_log_files(runner: Any) -> None:
    """Close the run's log file so that many runs in one process do not pile up open files."""
    logger = getattr(runner, "logger", None)
    for handler in list(getattr(logger, "handlers", [])):
        if isinstance(handler, logging.FileHandler):
            handler.close()
            logger.removeHandler(handler)


def train_run(cfg: Config) -> dict[str, Any]:
    """Train one prepared config; returns the wall time and where its logs are."""
    start = time.perf_counter()
    with user_errors():
        run_preflight_checks(cfg)
        runner = build_runner(cfg)
        try:
            runner.train()
        finally:
            _close_log_files(runner)
    return {"wall_time_s": time.perf_counter() - start, "log_dir": runner.log_dir}


def summarize_run(
    work_dir: str, name: str, seed: int, wall_time: float | None, metric: str
) -> dict[str, Any]:
    """Accuracy, passes, SAM fraction, times and telemetry of one finished run."""
    curve = read_json(os.path.join(work_dir, CURVE_FILE))
    points = curve["points"]
    scores = [p[metric] for p in points if metric in p]
    counters = curve["counters"]
    steps = counters.get("steps") or curve["iters"]
    grad_evals = counters.get("grad_evals", steps)
    return {
        "optimizer": name,
        "seed": seed,
        "work_dir": work_dir,
        "final": scores[-1] if scores else None,
        "best": max(scores) if scores else None,
        "steps": steps,
        "grad_evals": grad_evals,
        "passes_per_step": grad_evals / steps if steps else None,
        "sam_fraction": counters.get("sam_steps", 0.0) / steps if steps else None,
        "train_time_s": curve["train_time_s"],
        "wall_time_s": wall_time,
        "points": points,
        "telemetry": telemetry_series(read_records(work_dir, missing_ok=True)),
    }


def _finished(work_dir: str) -> bool:
    return os.path.isfile(os.path.join(work_dir, CURVE_FILE))


def run_all(settings: CompareSettings, echo: Any = print) -> list[dict[str, Any]]:
    """Train every (optimizer, seed) pair; returns one summary per run."""
    names = check_names(settings.optimizers)
    seeds = settings.seeds[:1] if settings.quick else list(settings.seeds)
    if not seeds:
        raise UserError("give at least one seed")
    runs = []
    pairs = [(seed, name) for seed in seeds for name in names]
    # Equal weights: the runs differ in passes per step, not in steps.
    progress = Progress([1.0] * len(pairs))
    for index, (seed, name) in enumerate(pairs, start=1):
        work_dir = os.path.join(settings.out, "runs", run_name(name, seed))
        wall_time = None
        if settings.skip_existing and _finished(work_dir):
            echo(f"== [{index}/{len(pairs)}] {name} seed {seed}: done, reused")
            previous = read_json(os.path.join(work_dir, "run_info.json"), default={})
            wall_time = previous.get("wall_time_s")
        else:
            echo(f"== [{index}/{len(pairs)}] {name} seed {seed}")
            cfg = prepare_config(settings, name, seed)
            wall_time = train_run(cfg)["wall_time_s"]
            _write_run_info(work_dir, name, seed, wall_time)
        echo(f"== {progress.advance(1.0)}")
        runs.append(summarize_run(work_dir, name, seed, wall_time, settings.metric))
    return runs


def _write_run_info(work_dir: str, name: str, seed: int, wall_time: float) -> None:
    write_json(
        os.path.join(work_dir, "run_info.json"),
        {"optimizer": name, "seed": seed, "wall_time_s": wall_time},
    )


def _mean_std(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    present = [v for v in values if v is not None]
    if not present:
        return None, None
    mean = sum(present) / len(present)
    if len(present) < 2:
        return mean, None
    variance = sum((v - mean) ** 2 for v in present) / (len(present) - 1)
    return mean, math.sqrt(variance)


SUMMARY_KEYS = (
    "final",
    "best",
    "grad_evals",
    "passes_per_step",
    "sam_fraction",
    "train_time_s",
    "wall_time_s",
)


def summarize_optimizers(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and sample standard deviation over seeds of every summary key, per optimizer."""
    order: list[str] = []
    for run in runs:
        if run["optimizer"] not in order:
            order.append(run["optimizer"])
    rows = []
    for name in order:
        group = [r for r in runs if r["optimizer"] == name]
        row: dict[str, Any] = {"optimizer": name, "seeds": len(group)}
        for key in SUMMARY_KEYS:
            row[f"{key}_mean"], row[f"{key}_std"] = _mean_std([r[key] for r in group])
        rows.append(row)
    reference = {r["optimizer"]: r for r in rows}
    for row in rows:
        for ref, key in ((BASE, "time_vs_base"), ("SAM", "time_vs_sam")):
            base = reference.get(ref, {}).get("train_time_s_mean")
            mine = row["train_time_s_mean"]
            row[key] = mine / base if base and mine is not None else None
    return rows
