"""The Lightning automatic-optimization recipe of docs/recipes.md, in every precision.

Lightning's precision plugins step the optimizer themselves. In float32 and bf16-mixed
(``precision="bf16-mixed"``, the CPU's mixed precision) the plugin calls
``optimizer.step(closure=...)``; in 16-mixed it runs the closure (pass 1), then
``scaler.step(optimizer)`` and ``scaler.update()``: a two-pass optimizer declares
``_step_supports_amp_scaling``, so it receives the GradScaler and unscales once itself.
The recipe's only addition is ``optimizer_step``, which hands Lightning's closure over as
``second_pass`` too. Each run must be the plain-PyTorch closure step, bit for bit. The
16-mixed path is Lightning's real ``MixedPrecision`` plugin with a CPU GradScaler (CUDA
picks the same code path for ``precision="16-mixed"``; on a CPU Lightning would switch
that flag to bf16-mixed).
"""

from __future__ import annotations

from collections.abc import Callable

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


class PlainModule(L.LightningModule):
    """An ordinary automatic-optimization module whose optimizer is ARSAM."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def configure_optimizers(self) -> ARSAM:
        optimizer = arsam_for(self.model, total_steps=int(self.trainer.estimated_stepping_batches))
        optimizer.freeze_statistics_of(self.model)
        return optimizer

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self.model(x), y)


class AutomaticARSAMModule(PlainModule):
    """The recipe: the closure Lightning built also runs the second pass."""

    def optimizer_step(
        self,
        epoch: int,
        batch_idx: int,
        optimizer: torch.optim.Optimizer,
        optimizer_closure: Callable[[], object],
    ) -> None:
        optimizer.step(closure=optimizer_closure, second_pass=optimizer_closure)


def precision_options(precision: str) -> dict[str, object]:
    """Trainer arguments for ``precision`` on the CPU (16-mixed: the real fp16 plugin)."""
    if precision == "16-mixed":
        return {"plugins": [MixedPrecision("16-mixed", "cpu", torch.amp.GradScaler("cpu"))]}
    return {"precision": precision}


AUTOCAST = {"32-true": None, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed", "16-mixed"])
def test_automatic_optimization_is_the_closure_step(precision: str, tmp_path) -> None:
    data = fixed_batches(STEPS)
    module = AutomaticARSAMModule(small_classifier())
    trainer = fit_lightning(module, data, STEPS, tmp_path, **precision_options(precision))
    optimizer = trainer.optimizers[0]

    reference = small_classifier()
    expected = arsam_for(reference, STEPS)
    expected.freeze_statistics_of(reference)
    scaler = torch.amp.GradScaler("cpu") if precision == "16-mixed" else None
    reference_run(reference, expected, data, autocast_dtype=AUTOCAST[precision], scaler=scaler)

    assert trainer.global_step == STEPS
    assert exercised_both_steps(optimizer, STEPS)
    assert optimizer.stats == expected.stats
    assert_same_model(module.model, reference)


def test_16_mixed_without_the_override_explains_the_fix(tmp_path) -> None:
    module = PlainModule(small_classifier())
    fp16 = precision_options("16-mixed")
    with pytest.raises(TypeError, match=r"second_pass=optimizer_closure"):
        fit_lightning(module, fixed_batches(STEPS), STEPS, tmp_path, **fp16)
