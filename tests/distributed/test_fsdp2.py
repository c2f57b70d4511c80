"""Every registered method trains under torch FSDP2 (``fully_shard``) as in one process.

Two gloo CPU processes (and four for SAM and ARSAM) shard a small MLP with FSDP2 and
train it for ``STEPS`` steps, each rank on its half of every global batch; the
reference is one process on the whole batch (tests/distributed/fsdp2_runs.py). Each
method runs four ways: ``opt.step(closure)``, the two-call API, a GradScaler, and
``skip_nonfinite`` with one non-finite first pass.

Tolerance: weights agree to ``ATOL`` = 1e-6 (absolute, float32 weights of size ~0.5).
The sharded run adds the same numbers in another order: FSDP2 averages the per-rank
mean gradients instead of taking one mean over the batch, and the global norms sum
per-shard squares across ranks (core/sharded.py), so each step differs by a few
float32 roundings (~1e-7 relative); over 8 steps the measured gap is at most 1.3e-7.
A norm taken per shard instead of globally (no all-reduce) moves SAM's weights by
5.7e-3 here, thousands of times ``ATOL``. Discrete outcomes (SAM
decisions, skipped steps, host reads) must be equal exactly.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from arsam.core import TWO_PASS_METHODS

from .fsdp2_runs import KINDS, NONFINITE_STEP, runs, spawn_sharded

ATOL = 1e-6
METHODS = sorted(TWO_PASS_METHODS)
FOUR_RANK_METHODS = ["ARSAM", "SAM"]
CASES = [(name, kind) for name in METHODS for kind in KINDS]


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    """Every method and kind in this process, on the whole batch."""
    return runs(METHODS)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Every method and kind sharded over 2 gloo processes: each rank's records."""
    return spawn_sharded(2, METHODS, KINDS, str(tmp_path_factory.mktemp("fsdp2_two")))


@pytest.fixture(scope="module")
def four_ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """SAM and ARSAM with a closure, sharded over 4 gloo processes."""
    folder = str(tmp_path_factory.mktemp("fsdp2_four"))
    return spawn_sharded(4, FOUR_RANK_METHODS, ("closure",), folder)


def max_gap(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    """The largest absolute difference between two lists of equally shaped tensors."""
    assert [x.shape for x in a] == [y.shape for y in b]
    return max(float((x - y).abs().max()) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_sharded_weights_equal_the_one_process_run(name, kind, reference, two_ranks) -> None:
    key = f"{name}/{kind}"
    for rank in two_ranks:
        assert max_gap(rank[key]["weights"], reference[key]["weights"]) <= ATOL


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_decisions_are_the_same_on_every_rank_and_in_one_process(
    name, kind, reference, two_ranks
) -> None:
    key = f"{name}/{kind}"
    for rank in two_ranks:
        assert rank[key]["sam"] == reference[key]["sam"]
        assert rank[key]["skipped"] == reference[key]["skipped"]
    skipped = [int(step == NONFINITE_STEP) for step in range(len(reference[key]["skipped"]))]
    assert reference[key]["skipped"] == (skipped if kind == "skip" else [0] * len(skipped))
    if name.startswith("ARSAM"):  # both kinds of step ran: SAM steps and PSF reuse steps
        assert 0 < sum(reference[key]["sam"]) < len(reference[key]["sam"]) - 1


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_the_sharded_step_reads_no_more_on_the_host(name, kind, reference, two_ranks) -> None:
    key = f"{name}/{kind}"
    for rank in two_ranks:
        assert rank[key]["reads"] == reference[key]["reads"]
        if kind in ("closure", "two_call"):  # no opt-in non-finite checks: the declared reads
            assert rank[key]["reads"] == rank[key]["declared"]


@pytest.mark.parametrize("name", METHODS)
def test_buffers_are_sharded_like_their_parameters(name, two_ranks) -> None:
    for rank in two_ranks:
        assert all(rank[f"{name}/{kind}"]["buffers_sharded_like_parameters"] for kind in KINDS)


@pytest.mark.parametrize("name", FOUR_RANK_METHODS)
def test_four_ranks_equal_the_one_process_run(name, reference, four_ranks) -> None:
    key = f"{name}/closure"
    for rank in four_ranks:
        assert max_gap(rank[key]["weights"], reference[key]["weights"]) <= ATOL
        assert rank[key]["sam"] == reference[key]["sam"]
        assert rank[key]["reads"] == reference[key]["reads"]
