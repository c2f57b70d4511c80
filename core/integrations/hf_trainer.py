"""A Hugging Face ``TrainerCallback`` that logs a two-pass optimizer's ``stats``.

Every time the Trainer logs (``logging_steps``), the callback adds ``opt.stats``
(``sam_fraction``, ``sam_steps``, ``grad_evals``, ``rho``, ``quota``, ``psf_ratio``...)
under ``two_pass/`` to the logs dict and to the entry just appended to
``state.log_history``. The Trainer calls its reporting callbacks (TensorBoard, W&B...)
before the callbacks a user adds, so ``add_stats_callback(trainer)`` puts the callback
first: then every reporter sees the stats. docs/recipes.md, "A Hugging Face Trainer".
"""

from __future__ import annotations

from typing import Any

from transformers import Trainer, TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from arsam.core.integrations import (
    DEFAULT_PREFIX,
    find_two_pass,
    loggable_stats,
    no_two_pass_optimizer,
)
from arsam.core.two_pass import TwoPassOptimizer


class TwoPassStatsCallback(TrainerCallback):
    """Adds the two-pass optimizer's ``stats`` to every set of logs the Trainer reports."""

    def __init__(
        self, optimizer: TwoPassOptimizer | None = None, prefix: str = DEFAULT_PREFIX
    ) -> None:
        self.optimizer = optimizer
        self.prefix = prefix

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        """Add the stats to ``logs`` and to the matching ``state.log_history`` entry."""
        if logs is None:
            return
        found = kwargs.get("optimizer")
        optimizer = self.optimizer or find_two_pass(found)
        if optimizer is None:
            raise no_two_pass_optimizer("Trainer", found)
        stats = loggable_stats(optimizer, self.prefix)
        logs.update(stats)
        if state.log_history and state.log_history[-1].get("step") == state.global_step:
            state.log_history[-1].update(stats)


def add_stats_callback(
    trainer: Trainer, optimizer: TwoPassOptimizer | None = None, prefix: str = DEFAULT_PREFIX
) -> TwoPassStatsCallback:
    """Give ``trainer`` a ``TwoPassStatsCallback`` that runs before its reporting callbacks."""
    callback = TwoPassStatsCallback(optimizer, prefix)
    trainer.callback_handler.callbacks.insert(0, callback)
    return callback
