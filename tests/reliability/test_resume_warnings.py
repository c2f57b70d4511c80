"""Resumes that cannot be bitwise say what differs and how to get an exact one."""

from __future__ import annotations

import pytest
from mmengine.config import Config

from arsam.core.training_infra.random_state import (
    RandomStateHook,
    capture_random_state,
    inexact_resume_warnings,
)
from arsam.tools.cli import build_runner
from tests.adapter.conftest import CONFIG


def epoch_loop(tmp_path, persistent: bool, iteration: int):
    """The toy config's epoch-based loop (4 batches per epoch) as if resumed at ``iteration``."""
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir, cfg.launcher = str(tmp_path / "work"), "none"
    cfg.train_dataloader.update(num_workers=1, persistent_workers=persistent)
    runner = build_runner(cfg)
    loop = runner.train_loop  # builds the DataLoader; no worker starts before iterating it
    loop._iter, loop._epoch = iteration, iteration // len(loop.dataloader)
    return runner, loop


def test_epoch_end_without_persistent_workers_resumes_exactly(tmp_path) -> None:
    _, loop = epoch_loop(tmp_path, persistent=False, iteration=4)
    assert inexact_resume_warnings(loop) == []


def test_persistent_workers_and_a_mid_epoch_checkpoint_are_explained(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner, _ = epoch_loop(tmp_path, persistent=True, iteration=6)
    hook = RandomStateHook()
    hook._resumed_state = capture_random_state()
    logged: list[str] = []
    monkeypatch.setattr(runner.logger, "warning", logged.append)
    hook.before_train(runner)
    workers, mid_epoch = logged
    assert "persistent_workers=True in an epoch-based loop" in workers
    assert "augmentations" in workers and "dropout" in workers
    assert "persistent_workers=False" in workers and "by_epoch=False" in workers
    assert "after iteration 6, batch 2 of epoch 2" in mid_epoch
    assert "first 2 batches are trained twice" in mid_epoch
    assert "ends at iteration 10" in mid_epoch  # 2 epochs of 4, plus the 2 repeated
    assert "CheckpointHook(by_epoch=True)" in mid_epoch
