"""Stop a run whose loss or weights stop being finite, before it writes a checkpoint of them.

Without ``skip_nonfinite`` (or a GradScaler) one inf/NaN loss turns the weights into NaN
and the run would go on to its end. MMEngine already reads every iteration's loss to the
host for its logs (RuntimeInfoHook puts it into the message hub), so the loss is checked at
no extra cost. The weights and buffers are checked every ``interval`` iterations (the
logger's interval by default; one host read then), at the end of every epoch and before
every checkpoint is written, so that the newest checkpoint is always a finite one.

When the optimizer skips non-finite steps itself, a non-finite loss is expected now and
then and only the weights are checked.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


class NonFiniteTrainingError(RuntimeError):
    """Training produced an inf or NaN loss or weight; the message is one paragraph."""


def weights_are_finite(model: torch.nn.Module) -> bool:
    """Whether every floating-point parameter and buffer of ``model`` is finite (one host read)."""
    tensors = [t for t in model.state_dict().values() if torch.is_floating_point(t)]
    if not tensors:
        return True
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())


@HOOKS.register_module()
class NonFiniteCheckHook(Hook):
    """Raises NonFiniteTrainingError at the first non-finite loss or weight that it sees."""

    priority = "ABOVE_NORMAL"

    def __init__(self, interval: int | None = None) -> None:
        self.interval = interval

    def before_train(self, runner: Any) -> None:
        """Take the logger's interval unless one was given."""
        if self.interval is None:
            logger = next((h for h in runner.hooks if type(h).__name__ == "LoggerHook"), None)
            self.interval = max(1, int(getattr(logger, "interval", 50)))

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        """Check the logged loss every iteration and the weights every ``interval``."""
        if not self._optimizer_skips_nonfinite(runner):
            history = runner.message_hub.log_scalars.get("train/loss")
            loss = history.current() if history is not None else None
            if loss is not None and not math.isfinite(loss):
                self._stop(runner, f"the loss is {loss}")
        if self.every_n_train_iters(runner, self.interval or 1):
            self._check_weights(runner)

    def after_train_epoch(self, runner: Any) -> None:
        """Check the weights before the epoch's checkpoint is written."""
        self._check_weights(runner)

    def before_save_checkpoint(self, runner: Any, checkpoint: dict) -> None:
        """Never write a checkpoint of non-finite weights (one host read per checkpoint)."""
        self._check_weights(runner)

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
    def _stop(runner: Any, what: str) -> None:
        raise NonFiniteTrainingError(
            f"training stopped at iteration {runner.iter + 1} (epoch {runner.epoch + 1}): "
            f"{what}, so every later step would be too. The checkpoints written so far are "
            "finite. Lower the learning rate or clip gradients (optim_wrapper.clip_grad="
            "dict(max_norm=...)), or let the optimizer skip such steps (optim_wrapper."
            "optimizer.skip_nonfinite=True), then continue with --resume."
        )
