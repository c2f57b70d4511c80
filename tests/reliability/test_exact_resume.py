"""The shipped CPU configs, killed mid-epoch (SIGKILL) and resumed, end bit for bit as unkilled.

digits_workers runs the digits augmentations in two DataLoader worker processes.

Weights, optimizer state, learning-rate schedule, progress and every random generator are
compared; the configs keep their random augmentations, validation and checkpoint rotation.
"""

from __future__ import annotations

import pytest

from tests.reliability.conftest import run_module


@pytest.mark.parametrize("case", ["digits", "digits_workers", "digits_qat", "pose_synthetic"])
def test_killed_mid_epoch_then_resumed_equals_uninterrupted(case: str, tmp_path) -> None:
    summary = run_module("tests.reliability.exact_resume", case, str(tmp_path))
    assert summary["failures"] == []
    assert summary["progress"][0] == 2  # both runs reached the end of epoch 2
