"""The Lightning manual-optimization recipe of docs/recipes.md, with Lightning itself.

``training_step`` runs the first pass with ``self.manual_backward`` and hands the second
pass to ``opt.step(second_pass=...)``: the optimizer decides, re-runs it on SAM steps only,
and Lightning counts one optimizer step (``global_step``, ``max_steps``). The run must be
the plain-PyTorch closure step, bit for bit, in float32 and through Lightning's real
16-mixed plugin (a ``MixedPrecision`` with a CPU GradScaler: the plugin's fp16 code path,
which on CUDA is chosen by ``precision="16-mixed"``).
"""

from __future__ import annotations

import lightning as L
import pytest
import torch
from lightning.pytorch.plugins.precision import MixedPrecision
from torch import Tensor, nn

from arsam.core import ARSAM
from tests.integrations.helpers import (
    Batch,
    arsam_for,
    assert_same_model,
    exercised_both_steps,
    fit_lightning,
    fixed_batches,
    reference_run,
    small_classifier,
)

STEPS = 12


class ManualARSAMModule(L.LightningModule):
    """The recipe: manual optimization, first pass here, second pass handed to opt.step."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.automatic_optimization = False

    def configure_optimizers(self) -> ARSAM:
        optimizer = arsam_for(self.model, total_steps=int(self.trainer.estimated_stepping_batches))
        optimizer.freeze_statistics_of(self.model)
        return optimizer

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        x, y = batch
        opt = self.optimizers()
        loss = nn.functional.cross_entropy(self.model(x), y)
        self.manual_backward(loss)  # pass 1 at w

        def second_pass() -> None:  # pass 2 at w + e, on SAM steps only
            self.manual_backward(nn.functional.cross_entropy(self.model(x), y))

        opt.step(second_pass=second_pass)
        opt.zero_grad()
        return loss


@pytest.mark.parametrize("precision", ["32-true", "16-mixed"])
def test_manual_optimization_is_the_closure_step(precision: str, tmp_path) -> None:
    data = fixed_batches(STEPS)
    fp16 = precision == "16-mixed"
    plugins = [MixedPrecision("16-mixed", "cpu", torch.amp.GradScaler("cpu"))] if fp16 else None
    module = ManualARSAMModule(small_classifier())
    trainer = fit_lightning(module, data, STEPS, tmp_path, plugins=plugins)
    optimizer = trainer.optimizers[0]

    reference = small_classifier()
    expected = arsam_for(reference, STEPS)
    expected.freeze_statistics_of(reference)
    reference_run(
        reference,
        expected,
        data,
        autocast_dtype=torch.float16 if fp16 else None,
        scaler=torch.amp.GradScaler("cpu") if fp16 else None,
    )

    assert trainer.global_step == STEPS
    assert exercised_both_steps(optimizer, STEPS)
    assert optimizer.stats == expected.stats
    assert_same_model(module.model, reference)
