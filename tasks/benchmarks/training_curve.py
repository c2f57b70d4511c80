"""An MMEngine hook that records accuracy against training time and forward-backward passes.

The clock runs while the model trains and stops for validation and for the
checkpoints written after an epoch, so the time axis is training time only.
At every validation the hook records the metrics, the training time so far and
the optimizer's counters; after training it writes ``training_curve.json`` into
the work directory.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

CURVE_FILE = "training_curve.json"


def optimizer_counters(runner: Any) -> dict[str, float]:
    """steps, sam_steps and grad_evals of the runner's optimizer (one pass per step for SGD)."""
    optimizer = getattr(getattr(runner, "optim_wrapper", None), "optimizer", None)
    stats = getattr(optimizer, "stats", None)
    if isinstance(stats, dict) and "grad_evals" in stats:
        return {
            key: float(value)
            for key, value in stats.items()
            if isinstance(value, int | float) and math.isfinite(value)
        }
    steps = float(runner.iter)
    return {"steps": steps, "sam_steps": 0.0, "grad_evals": steps, "sam_fraction": 0.0}


def _synchronize() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


@HOOKS.register_module()
class TrainingCurveHook(Hook):
    """Validation metrics against training time and passes, written to ``training_curve.json``."""

    priority = "VERY_HIGH"

    def __init__(self, filename: str = CURVE_FILE) -> None:
        self.filename = filename
        self.points: list[dict[str, Any]] = []
        self.elapsed = 0.0
        self._started: float | None = None

    def _resume(self) -> None:
        if self._started is None:
            _synchronize()
            self._started = time.perf_counter()

    def _pause(self) -> None:
        if self._started is not None:
            _synchronize()
            self.elapsed += time.perf_counter() - self._started
            self._started = None

    def before_train(self, runner: Any) -> None:
        """Start from zero."""
        self.points, self.elapsed, self._started = [], 0.0, None

    def before_train_epoch(self, runner: Any) -> None:
        """Run the clock."""
        self._resume()

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        """Run the clock (iteration-based loops resume here after validating)."""
        self._resume()

    def after_train_epoch(self, runner: Any) -> None:
        """Stop the clock before checkpoints and validation."""
        self._pause()

    def before_val_epoch(self, runner: Any) -> None:
        """Stop the clock while validating."""
        self._pause()

    def after_val_epoch(self, runner: Any, metrics: dict[str, float] | None = None) -> None:
        """Record the metrics with the training time and the passes so far."""
        point = {"epoch": runner.epoch, "iter": runner.iter, "train_time_s": self.elapsed}
        point.update(optimizer_counters(runner))
        for key, value in (metrics or {}).items():
            if isinstance(value, int | float) and math.isfinite(value):
                point[key] = float(value)
        self.points.append(point)

    def after_train(self, runner: Any) -> None:
        """Write the curve and the final counters into the work directory."""
        self._pause()
        payload = {
            "points": self.points,
            "train_time_s": self.elapsed,
            "iters": runner.iter,
            "epochs": runner.epoch,
            "counters": optimizer_counters(runner),
        }
        if runner.rank == 0:
            with open(os.path.join(runner.work_dir, self.filename), "w") as handle:
                json.dump(payload, handle, indent=2)
