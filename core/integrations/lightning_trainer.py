"""A Lightning ``Callback`` that logs a two-pass optimizer's ``stats`` and guards its clipping.

Every ``log_every_n_steps`` optimizer steps (and once at the end of fitting) the callback
hands ``opt.stats`` (``sam_fraction``, ``sam_steps``, ``grad_evals``, ``rho``, ``quota``,
``psf_ratio``...) under ``two_pass/`` to every logger of the Trainer
(``logger.log_metrics``): host numbers only, nothing is moved to the device. It also
refuses ``Trainer(gradient_clip_val=...)`` with a two-pass optimizer, which would clip
pass 1's gradient instead of the one the update uses. docs/recipes.md, "PyTorch Lightning".
"""

from __future__ import annotations

from typing import Any

import lightning as L

from arsam.core.integrations import (
    DEFAULT_PREFIX,
    find_two_pass,
    loggable_stats,
    no_two_pass_optimizer,
)
from arsam.core.two_pass import TwoPassOptimizer


class TwoPassStatsCallback(L.Callback):
    """Logs the two-pass optimizers' ``stats`` through the Trainer's loggers."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = prefix
        self._last_logged_step = -1

    def two_pass_optimizers(self, trainer: L.Trainer) -> list[TwoPassOptimizer]:
        """The two-pass optimizers among ``trainer.optimizers``."""
        found = [find_two_pass(optimizer) for optimizer in trainer.optimizers]
        return [optimizer for optimizer in found if optimizer is not None]

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Refuse Lightning's gradient clipping and a module without a two-pass optimizer."""
        optimizers = self.two_pass_optimizers(trainer)
        if not optimizers:
            first = trainer.optimizers[0] if trainer.optimizers else None
            raise no_two_pass_optimizer("Lightning Trainer", first)
        if trainer.gradient_clip_val:
            name = type(optimizers[0]).__name__
            raise ValueError(
                f"Trainer(gradient_clip_val={trainer.gradient_clip_val}) with {name}: Lightning "
                "clips the first pass's gradient before the optimizer step, while a two-pass "
                "optimizer updates with another gradient (g_sam on SAM steps, g plus the reused "
                "PSF on the others), so the clipping changes the run without limiting the update. "
                f"Remove gradient_clip_val from the Trainer and give the optimizer "
                f"max_grad_norm={trainer.gradient_clip_val} instead (it clips the gradient the "
                "update uses; docs/recipes.md, 'Shared rules')."
            )
        self._last_logged_step = -1

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        """Log the stats every ``log_every_n_steps`` optimizer steps."""
        step = trainer.global_step
        if step > 0 and step % max(trainer.log_every_n_steps, 1) == 0:
            self._log(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Log the final stats unless the last step already did."""
        self._log(trainer)

    def _log(self, trainer: L.Trainer) -> None:
        step = trainer.global_step
        if step == self._last_logged_step or not trainer.loggers:
            return
        self._last_logged_step = step
        optimizers = self.two_pass_optimizers(trainer)
        metrics: dict[str, float] = {}
        for index, optimizer in enumerate(optimizers):
            prefix = self.prefix if len(optimizers) == 1 else f"{self.prefix}{index}/"
            metrics.update(loggable_stats(optimizer, prefix))
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=step)
