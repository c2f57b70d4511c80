"""torch.amp.GradScaler.step(optimizer, ...) on a two-pass optimizer, and ``step(second_pass=)``.

A two-pass optimizer declares ``_step_supports_amp_scaling``: ``scaler.step(opt, **kwargs)``
then calls ``opt.step(**kwargs, grad_scaler=scaler)`` without unscaling first (Lightning's
16-mixed plugin calls it so, after running the first pass itself). With ``second_pass=``
the step must be the same as ``opt.step(closure, grad_scaler=scaler)``, bit for bit.
(``scaler.step(opt, closure)`` is not a supported form: the GradScaler refuses a step
before its first ``scale()``, which a closure would only run later.)
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from tests.integrations.helpers import (
    arsam_for,
    assert_same_model,
    exercised_both_steps,
    fixed_batches,
    reference_run,
    small_classifier,
)

STEPS = 12


def scaled_backward(model: nn.Module, scaler: torch.amp.GradScaler, x: Tensor, y: Tensor) -> Tensor:
    """Forward, loss and ``scaler.scale(loss).backward()``; returns the loss."""
    loss = nn.functional.cross_entropy(model(x), y)
    scaler.scale(loss).backward()
    return loss


def reference(steps: int = STEPS) -> tuple[nn.Module, torch.optim.Optimizer]:
    """The model and optimizer after ``opt.step(closure, grad_scaler=scaler)`` on the data."""
    model = small_classifier()
    optimizer = arsam_for(model, steps)
    optimizer.freeze_statistics_of(model)
    reference_run(model, optimizer, fixed_batches(steps), scaler=torch.amp.GradScaler("cpu"))
    return model, optimizer


def fresh() -> tuple[nn.Module, torch.optim.Optimizer, torch.amp.GradScaler]:
    """The same starting model and optimizer, and a new CPU GradScaler."""
    model = small_classifier()
    optimizer = arsam_for(model, STEPS)
    optimizer.freeze_statistics_of(model)
    return model, optimizer, torch.amp.GradScaler("cpu")


def test_scaler_step_after_the_loops_own_first_pass() -> None:
    model, optimizer, scaler = fresh()
    for x, y in fixed_batches(STEPS):
        optimizer.zero_grad()
        scaled_backward(model, scaler, x, y)
        scaler.step(optimizer, second_pass=lambda x=x, y=y: scaled_backward(model, scaler, x, y))
        scaler.update()
    expected_model, expected = reference()
    assert exercised_both_steps(optimizer, STEPS)
    assert_same_model(model, expected_model)
    assert optimizer.stats == expected.stats


def test_second_pass_alone_without_a_scaler() -> None:
    model = small_classifier()
    optimizer = arsam_for(model, STEPS)
    expected_model = small_classifier()
    expected = arsam_for(expected_model, STEPS)
    reference_run(expected_model, expected, fixed_batches(STEPS))

    def backward(x: Tensor, y: Tensor) -> None:
        nn.functional.cross_entropy(model(x), y).backward()

    for x, y in fixed_batches(STEPS):
        optimizer.zero_grad()
        backward(x, y)
        assert optimizer.step(second_pass=lambda x=x, y=y: backward(x, y)) is None
    assert exercised_both_steps(optimizer, STEPS)
    assert_same_model(model, expected_model)


def test_overflow_in_the_loops_first_pass_skips_and_backs_off() -> None:
    model, optimizer, scaler = fresh()
    (x, y), *_ = fixed_batches(1)
    before = [p.detach().clone() for p in model.parameters()]
    scale = scaler.get_scale()
    loss = nn.functional.cross_entropy(model(x), y) * math.inf
    scaler.scale(loss).backward()
    scaler.step(optimizer, second_pass=lambda: scaled_backward(model, scaler, x, y))
    scaler.update()
    assert optimizer.stats["skipped_steps"] == 1 and optimizer.stats["steps"] == 0
    assert scaler.get_scale() < scale
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_scaler_step_without_any_closure_names_both_forms() -> None:
    model, optimizer, scaler = fresh()
    (x, y), *_ = fixed_batches(1)
    scaled_backward(model, scaler, x, y)
    with pytest.raises(TypeError, match=r"ARSAM.step\(\) needs a closure.*second_pass=") as error:
        scaler.step(optimizer)
    assert "optimizer_step" in str(error.value)


def test_a_scaler_that_only_registers_its_scale_is_refused() -> None:
    """A GradScaler that sets grad_scale/found_inf instead of passing grad_scaler= (the form
    torch announces) would leave the gradients scaled: the step refuses before any pass."""
    model, optimizer, scaler = fresh()
    (x, y), *_ = fixed_batches(1)
    optimizer.grad_scale = torch.tensor(1024.0)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(RuntimeError, match="did not pass grad_scaler="):
        optimizer.step(lambda: scaled_backward(model, scaler, x, y))
    assert optimizer.stats["grad_evals"] == 0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
