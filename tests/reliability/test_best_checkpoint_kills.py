"""A kill inside the best-checkpoint rotation, then --resume: the unkilled run's best files."""

from __future__ import annotations

from tests.reliability.conftest import run_module


def test_kills_between_best_and_iteration_saves_keep_the_best_files_and_score(tmp_path) -> None:
    summary = run_module("tests.reliability.best_checkpoint_kills", str(tmp_path))
    assert summary["failures"] == []
    assert summary["best_files"] == ["best_accuracy_iter_24.pth"]
