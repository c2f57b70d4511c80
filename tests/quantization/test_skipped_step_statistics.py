"""A skipped (non-finite) SAM step leaves every Brevitas statistic and BatchNorm as it was."""

from typing import Any

import pytest
import torch
from torch import nn

from arsam.core import SAM
from arsam.tasks.quantization import calibration_counters

from .helpers import batch, tiny_net

COLLECT_STEPS = 3


def statistics(model: nn.Module) -> dict[str, Any]:
    """Copies of everything a forward may change: counters, flags, buffers, initialised scales."""
    found: dict[str, Any] = {f"buffer {n}": b.clone() for n, b in model.named_buffers()}
    found.update({f"parameter {n}": p.detach().clone() for n, p in model.named_parameters()})
    found.update({f"counter {n}": c for n, c in calibration_counters(model).items()})
    found.update(
        {f"init_done {n}": m.init_done for n, m in model.named_modules() if hasattr(m, "init_done")}
    )
    return found


def assert_same(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert before.keys() == after.keys()
    for key, value in before.items():
        other = after[key]
        same = torch.equal(value, other) if isinstance(value, torch.Tensor) else value == other
        assert same, f"{key}: {value} before the skipped step, {other} after it"


@pytest.mark.parametrize("bad_pass", [1, 2])
def test_skipped_steps_leave_calibration_and_batchnorm_as_they_were(bad_pass: int) -> None:
    model = tiny_net(collect_stats_steps=COLLECT_STEPS)
    optimizer = SAM(model.parameters(), torch.optim.SGD, lr=0.01, skip_nonfinite=True)
    optimizer.freeze_statistics_of(model)
    x, y = batch()

    def closure(bad: int = 0) -> torch.Tensor:
        passes[0] += 1
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        if passes[0] == bad:
            loss = loss * float("nan")
        loss.backward()
        return loss

    # before the first forward (weight scales not initialised), during the activation
    # calibration, at its last collecting step and at the step that turns it into a parameter
    for step in range(COLLECT_STEPS + 2):
        before = statistics(model)
        passes = [0]
        optimizer.step(lambda: closure(bad_pass))
        assert optimizer.stats["skipped_steps"] == step + 1
        assert_same(before, statistics(model))
        passes = [0]
        optimizer.step(closure)
    assert optimizer.stats["steps"] == COLLECT_STEPS + 2
    counters = set(calibration_counters(model).values())
    assert counters == {COLLECT_STEPS + 1}  # calibrated once per clean step, then initialised
