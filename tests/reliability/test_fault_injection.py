"""Twenty kills at random instants, each followed by --resume, end exactly like an unkilled run.

The longer variant (more kills, another seed):
    python -m tests.reliability.fault_injection work_dirs/faults --kills 200 --seed 1
"""

from __future__ import annotations

from tests.reliability.conftest import run_module


def test_twenty_kills_and_resumes_end_bit_for_bit_like_an_unkilled_run(tmp_path) -> None:
    summary = run_module("tests.reliability.fault_injection", str(tmp_path), "--kills", "20")
    assert summary["failures"] == []
    assert summary["kills"] == 20 and summary["sigterm_kills"] > 0
    resumable = summary["resumable_after_each_kill"]
    assert resumable[-1] is not None and resumable[-1] != resumable[0]  # kills spread over the run
