"""Stop a run whose loss or weights stop being finite, before it writes a checkpoint of them.

Without ``skip_nonfinite`` (or a GradScaler) one inf/NaN loss turns the weights into NaN
and the run would go on to its end. MMEngine already reads every iteration's loss to the
host for its logs (RuntimeInfoHook puts it into the message hub), so the loss is checked at
no extra cost. The weights and buffers are checked every ``interval`` iterations (the
logger's interval by default; one host read then), at the end of every epoch and before
every checkpoint is written, so that the newest checkpoint is always a finite one.

When the optimizer skips non-finite steps itself (``skip_nonfinite=True``, or a GradScaler
under fp16), a non-finite loss is expected now and then; instead, a run that skips too many
steps stops: more than ``max_consecutive_skips`` in a row, or more than
``max_skipped_fraction`` of its steps once more than ``max_consecutive_skips`` were skipped in
all (so a GradScaler's first few skipped steps, while it lowers its scale, never count).
The skipped steps are counted from host numbers (core/training_infra/step_counts.py).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from .step_counts import StepCounter

MAX_SKIPPED_FRACTION = 0.1
MAX_CONSECUTIVE_SKIPS = 25


class NonFiniteTrainingError(RuntimeError):
    """Training produced an inf or NaN loss or weight; the message is one paragraph."""


def weights_are_finite(model: torch.nn.Module) -> bool:
    """Whether every floating-point parameter and buffer of ``model`` is finite (one host read)."""
    tensors = [t for t in model.state_dict().values() if torch.is_floating_point(t)]
    if not tensors:
        return True
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())


def check_skip_limits(max_skipped_fraction: Any, max_consecutive_skips: Any) -> None:
    """Raise ValueError unless the limits are None or a fraction in [0, 1] and an integer >= 0."""
    fraction_ok = max_skipped_fraction is None or (
        isinstance(max_skipped_fraction, (int, float))
        and not isinstance(max_skipped_fraction, bool)
        and 0 <= max_skipped_fraction <= 1
    )
    if not fraction_ok:
        raise ValueError(
            "NonFiniteCheckHook's max_skipped_fraction must be a fraction in [0, 1] of the "
            f"optimizer steps, got {max_skipped_fraction!r}. Give e.g. "
            f"{MAX_SKIPPED_FRACTION} (the default), or None to allow any share."
        )
    run_ok = max_consecutive_skips is None or (
        isinstance(max_consecutive_skips, int)
        and not isinstance(max_consecutive_skips, bool)
        and max_consecutive_skips >= 0
    )
    if not run_ok:
        raise ValueError(
            "NonFiniteCheckHook's max_consecutive_skips must be a whole number of steps >= 0, "
            f"got {max_consecutive_skips!r}. Give e.g. {MAX_CONSECUTIVE_SKIPS} (the default), "
            "or None to allow any run of skipped steps."
        )


@HOOKS.register_module()
class NonFiniteCheckHook(Hook):
    """Raises NonFiniteTrainingError at the first non-finite loss or weight, or too many skips.

    Args:
        interval: check the weights every this many iterations (the logger's by default).
        max_skipped_fraction: with an optimizer that skips non-finite steps, stop once more
            than this share of the optimizer steps was skipped (default 0.1) and more than
            ``max_consecutive_skips`` in all; None: no limit.
        max_consecutive_skips: stop once more than this many steps in a row were skipped
            (default 25: a GradScaler starting at 2**16 may skip about 16 while it finds its
            scale); None: no limit.
    """

    priority = "ABOVE_NORMAL"

    def __init__(
        self,
        interval: int | None = None,
        max_skipped_fraction: float | None = MAX_SKIPPED_FRACTION,
        max_consecutive_skips: int | None = MAX_CONSECUTIVE_SKIPS,
    ) -> None:
        check_skip_limits(max_skipped_fraction, max_consecutive_skips)
        self.interval = interval
        self.max_skipped_fraction = max_skipped_fraction
        self.max_consecutive_skips = max_consecutive_skips
        self.steps: StepCounter | None = None

    def before_train(self, runner: Any) -> None:
        """Take the logger's interval unless one was given."""
        if self.interval is None:
            logger = next((h for h in runner.hooks if type(h).__name__ == "LoggerHook"), None)
            self.interval = max(1, int(getattr(logger, "interval", 50)))
        if self.steps is None or self.steps.wrapper is not runner.optim_wrapper:
            self.steps = StepCounter(runner.optim_wrapper)

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        """Note the step counts before the iteration (host numbers)."""
        if self.steps is not None and self.steps.active:
            self.steps.before_iteration()

    def after_train(self, runner: Any) -> None:
        """Stop watching the optimizer's steps; the counts stay for the run's summary."""
        if self.steps is not None:
            self.steps.close()

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        """Check the loss (or the skipped steps) every iteration, the weights every ``interval``."""
        if not self._optimizer_skips_nonfinite(runner):
            history = runner.message_hub.log_scalars.get("train/loss")
            loss = history.current() if history is not None else None
            if loss is not None and not math.isfinite(loss):
                self._stop(runner, f"the loss is {loss}")
        if self.steps is not None and self.steps.active:
            self.steps.after_iteration()
            self._check_skipped_steps(runner)
        if self.every_n_train_iters(runner, self.interval or 1):
            self._check_weights(runner)

    def after_train_epoch(self, runner: Any) -> None:
        """Check the weights before the epoch's checkpoint is written."""
        self._check_weights(runner)

    def before_save_checkpoint(self, runner: Any, checkpoint: dict) -> None:
        """Never write a checkpoint of non-finite weights (one host read per checkpoint)."""
        self._check_weights(runner)

    def _check_skipped_steps(self, runner: Any) -> None:
        """Stop a run that skips more steps than the limits allow (host counters only)."""
        run, counts = self.steps.consecutive_skips, self.steps.counts()
        limit = self.max_consecutive_skips
        if limit is not None and run > limit:
            self._stop_skipping(
                runner,
                f"the last {run} optimizer steps in a row were skipped, more than "
                f"max_consecutive_skips={limit} allows",
            )
        share = self.max_skipped_fraction
        if share is not None and counts.skipped > max(share * counts.tried, limit or 0):
            self._stop_skipping(
                runner,
                f"{counts.skipped} of its {counts.tried} optimizer steps "
                f"({counts.skipped / counts.tried:.0%}) were skipped, more than "
                f"max_skipped_fraction={share} allows",
            )

    def _check_weights(self, runner: Any) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not weights_are_finite(model):
            self._stop(runner, "some weights or buffers are inf or NaN")

    @staticmethod
    def _optimizer_skips_nonfinite(runner: Any) -> bool:
        wrapper = runner.optim_wrapper
        optimizer = getattr(wrapper, "optimizer", None)
        return bool(
            getattr(optimizer, "skip_nonfinite", False)
            or getattr(wrapper, "loss_scaler", None) is not None
        )

    @staticmethod
    def _stop_skipping(runner: Any, what: str) -> None:
        raise NonFiniteTrainingError(
            f"training stopped at iteration {runner.iter + 1} (epoch {runner.epoch + 1}): {what}. "
            "A step is skipped when its gradients are inf or NaN (skip_nonfinite=True, or the "
            "float16 loss scaler), and the weights do not move on it, so this run is not "
            "training. The checkpoints written so far are finite. Look for inf/NaN in the data "
            "or the loss, lower the learning rate (with float16, the loss scale), or, if so "
            "many skips are expected, raise the limits with custom_hooks=[dict(type="
            "'NonFiniteCheckHook', max_skipped_fraction=..., max_consecutive_skips=...)] (None "
            "turns one off); then continue with --resume."
        )

    @staticmethod
    def _stop(runner: Any, what: str) -> None:
        raise NonFiniteTrainingError(
            f"training stopped at iteration {runner.iter + 1} (epoch {runner.epoch + 1}): "
            f"{what}, so every later step would be too. The checkpoints written so far are "
            "finite. Lower the learning rate or clip gradients (optim_wrapper.clip_grad="
            "dict(max_norm=...)), or let the optimizer skip such steps (optim_wrapper."
            "optimizer.skip_nonfinite=True), then continue with --resume."
        )
