"""The timm-style loop of docs/recipes.md, run with timm itself.

timm's ``train_one_epoch`` ends each batch with ``loss_scaler(loss, optimizer)`` (its
``NativeScaler``: scaled backward, ``scaler.step``, ``scaler.update``) or
``loss.backward(); optimizer.step()``. The recipe replaces that with the two-call step
and hands NativeScaler's GradScaler to ``first_step(grad_scaler=...)``. The model is a
timm model with BatchNorm, the LR follows timm's ``CosineLRScheduler`` per update.
fp16 convolutions are very slow on a CPU, so the forward runs in float32 while the
GradScaler's whole path (scaled backward, one unscale per update, inf checks, update)
is exercised as on CUDA.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import pytest
import timm
import torch
from timm.scheduler import CosineLRScheduler
from timm.utils import NativeScaler
from torch import Tensor, nn

from tests.integrations.helpers import (
    Batch,
    arsam_for,
    assert_same_model,
    exercised_both_steps,
    fixed_batches,
    reference_run,
)

STEPS = 12


def train_one_epoch(
    model: nn.Module,
    loader: list[Batch],
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    loss_scaler: NativeScaler | None,
    lr_scheduler: CosineLRScheduler,
    amp_autocast: Callable[[], AbstractContextManager[None]] = nullcontext,
    num_updates: int = 0,
) -> int:
    """timm's train_one_epoch, the two-call step replacing ``loss_scaler(loss, optimizer)``."""
    scaler = loss_scaler._scaler if loss_scaler is not None else None
    model.train()
    for input, target in loader:

        def backward(loss: Tensor) -> None:
            (loss if scaler is None else scaler.scale(loss)).backward()

        with amp_autocast():
            loss = loss_fn(model(input), target)
        backward(loss)
        if optimizer.first_step(grad_scaler=scaler):  # SAM step: weights now at w + e
            with amp_autocast():
                backward(loss_fn(model(input), target))
            optimizer.second_step()
        if scaler is not None:
            scaler.update()
        optimizer.zero_grad()
        num_updates += 1
        lr_scheduler.step_update(num_updates=num_updates)
    return num_updates


def timm_model() -> nn.Module:
    """A small timm model with BatchNorm, identical for every call."""
    torch.manual_seed(0)
    return timm.create_model("test_efficientnet", num_classes=3, pretrained=False)


def scheduled(optimizer: torch.optim.Optimizer) -> CosineLRScheduler:
    """timm's cosine schedule over the run, stepped per update."""
    return CosineLRScheduler(optimizer, t_initial=STEPS, lr_min=1e-3, t_in_epochs=False)


@pytest.mark.parametrize("amp", [True, False], ids=["grad_scaler", "no_scaler"])
def test_timm_loop_is_the_closure_step(amp: bool) -> None:
    data = fixed_batches(STEPS, shape=(3, 32, 32))
    loss_fn = nn.CrossEntropyLoss()

    model = timm_model()
    optimizer = arsam_for(model, STEPS)
    optimizer.freeze_statistics_of(model)
    loss_scaler = NativeScaler(device="cpu") if amp else None
    lr_scheduler = scheduled(optimizer)
    assert train_one_epoch(model, data, optimizer, loss_fn, loss_scaler, lr_scheduler) == STEPS

    reference = timm_model()
    ref_optimizer = arsam_for(reference, STEPS)
    ref_optimizer.freeze_statistics_of(reference)
    ref_scheduler = scheduled(ref_optimizer)
    updates = iter(range(1, STEPS + 1))
    reference_run(
        reference,
        ref_optimizer,
        data,
        scaler=torch.amp.GradScaler("cpu") if amp else None,
        after_step=lambda: ref_scheduler.step_update(num_updates=next(updates)),
        loss_fn=loss_fn,
    )

    assert exercised_both_steps(optimizer, STEPS)
    assert_same_model(model, reference)
    assert optimizer.stats == ref_optimizer.stats
    assert optimizer.param_groups[0]["lr"] == ref_optimizer.param_groups[0]["lr"] < 0.1
    if loss_scaler is not None:
        assert loss_scaler.state_dict()["scale"] > 0
