"""Which errors count as a failed collective, and the paragraph for a lone rank's timeout."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
import torch.distributed as dist

from arsam.core.training_infra import distributed
from tests.adapter.test_distributed import free_port

TIMED_OUT = "[gloo/transport/tcp/unbound_buffer.cc:78] Timed out waiting 5000ms for recv operation"
RESET = "[gloo/transport/tcp/pair.cc:545] Read error [127.0.0.1]:34983: Connection reset by peer"


@pytest.fixture
def one_rank_group(monkeypatch):
    """A gloo group of one process, destroyed afterwards."""
    port = str(free_port())
    variables = dict(RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(distributed, "_configured_timeout", timedelta(seconds=7))
    dist.init_process_group("gloo", timeout=timedelta(seconds=7))
    yield
    dist.destroy_process_group()


def test_without_a_process_group_nothing_is_a_collective_failure() -> None:
    assert not dist.is_initialized()
    assert not distributed.is_collective_failure(RuntimeError(TIMED_OUT))
    distributed.announce_stop("nonfinite", "nothing to tell")  # alone: does nothing


def test_timeouts_and_lost_peers_are_collective_failures(one_rank_group) -> None:
    assert distributed.is_collective_failure(RuntimeError(TIMED_OUT))
    assert distributed.is_collective_failure(RuntimeError(RESET))
    assert distributed.is_collective_failure(dist.DistBackendError("NCCL error"))
    assert not distributed.is_collective_failure(RuntimeError("shape mismatch"))
    assert not distributed.is_collective_failure(ValueError("timed out"))
    with pytest.raises(ValueError, match="kind must be one of"):
        distributed.announce_stop("unknown", "")


def test_the_timeout_paragraph_names_the_value_and_the_option(one_rank_group) -> None:
    failure = distributed.explain_collective_failure(RuntimeError(TIMED_OUT))
    assert failure.peer_stop is None
    assert failure.paragraph.startswith("a distributed collective timed out on rank 0 after 7 s")
    assert "--cfg-options env_cfg.dist_cfg.timeout=SECONDS" in failure.paragraph
    assert os.linesep not in failure.paragraph
