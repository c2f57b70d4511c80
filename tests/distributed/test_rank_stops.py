"""A rank that stops on a NaN loss of its own: when do the other ranks stop, and what do they say?

The loss each rank checks is its own (MMEngine logs the rank's loss), but the gradients are
all-reduced, so after that step the weights are NaN on every rank. Ranks that check the
weights at that iteration stop at the same step; otherwise they run on into the next
collective, find the stopped rank gone, and stop at once with its reason (not after the
collective timeout).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from tests.adapter.test_distributed import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, "tests", "distributed", "launched_config.py")
TIMEOUT = 120  # seconds; the ranks must stop long before it


def start_rank(rank: int, port: int, work: str, *options: str) -> subprocess.Popen:
    """``tools/train.py --launcher pytorch`` as rank ``rank`` of two, started as torchrun would."""
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        PYTHONPATH=ROOT,
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE="2",
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    env.pop("ARSAM_DEBUG", None)
    command = [sys.executable, "tools/train.py", CONFIG, "--work-dir", work, "--launcher"]
    timeout = f"env_cfg.dist_cfg.timeout={TIMEOUT}"
    return subprocess.Popen(
        [*command, "pytorch", "--cfg-options", timeout, *options],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_all(ranks: list[subprocess.Popen], limit: float) -> list[float]:
    """Wait for every rank; the moment each one exited."""
    ended: list[float | None] = [None] * len(ranks)
    deadline = time.monotonic() + limit
    while None in ended and time.monotonic() < deadline:
        for i, rank in enumerate(ranks):
            if ended[i] is None and rank.poll() is not None:
                ended[i] = time.monotonic()
        time.sleep(0.05)
    for rank in ranks:
        if rank.poll() is None:
            rank.kill()
    assert None not in ended, "a rank did not stop"
    return ended


def stop_iteration(message: str) -> int:
    return int(re.search(r"training stopped at iteration (\d+)", message).group(1))


@pytest.mark.parametrize("weights_every", [1, 50], ids=["weights-checked", "loss-only"])
def test_a_nan_loss_on_one_rank_stops_every_rank_quickly(tmp_path, weights_every: int) -> None:
    options = [
        "model.type=RankNaNToyModel",
        "model.nan_rank=1",
        "model.nan_after=4",  # warm-up takes 4 forwards: the NaN comes in iteration 3
        f"default_hooks.logger.interval={weights_every}",  # NonFiniteCheckHook's interval
    ]
    port, work = free_port(), str(tmp_path / "work")
    ranks = [start_rank(0, port, work, *options), start_rank(1, port, work, *options)]
    ended = wait_all(ranks, limit=240)
    errors = [rank.stderr.read() for rank in ranks]
    messages = [next(line for line in e.splitlines() if line.startswith("error:")) for e in errors]
    assert [rank.returncode for rank in ranks] == [3, 3], errors
    assert all("Traceback" not in e for e in errors)
    assert "the loss is nan" in messages[1] and stop_iteration(messages[1]) == 3
    if weights_every == 1:  # rank 0 finds the NaN weights itself, at the same iteration
        assert "some weights or buffers are inf or NaN" in messages[0]
        assert stop_iteration(messages[0]) == 3
    else:  # rank 0 went on to iteration 4, lost rank 1 in its collective and relays why
        assert messages[0].startswith("error: rank 1 stopped, so rank 0 stops too. Rank 1: ")
        assert "the loss is nan" in messages[0] and stop_iteration(messages[0]) == 3
    assert ended[0] - ended[1] < TIMEOUT / 4, "rank 0 waited for the collective timeout"
