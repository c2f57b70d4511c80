"""A stopped rank does not block the others forever: env_cfg.dist_cfg.timeout reaches gloo,
and the rank that times out says which rank stopped responding, in one paragraph."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.adapter.conftest import CONFIG
from tests.adapter.test_distributed import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 5


def start_rank(rank: int, port: int, work: str) -> subprocess.Popen:
    env = dict(
        {k: v for k, v in os.environ.items() if k != "ARSAM_DEBUG"},
        OMP_NUM_THREADS="1",
        PYTHONPATH=ROOT,
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE="2",
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    options = [f"env_cfg.dist_cfg.timeout={TIMEOUT}", "train_cfg.max_epochs=100000"]
    command = [
        sys.executable,
        "tools/train.py",
        CONFIG,
        "--work-dir",
        work,
        "--launcher",
        "pytorch",
    ]
    return subprocess.Popen(
        [*command, "--cfg-options", *options],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_other_rank_exits_within_the_timeout_when_one_is_stopped(tmp_path) -> None:
    work = str(tmp_path / "work")
    port = free_port()
    ranks = [start_rank(0, port, work), start_rank(1, port, work)]
    try:
        deadline = time.monotonic() + 240
        while not os.path.exists(os.path.join(work, "epoch_2.pth")):  # both ranks are training
            assert time.monotonic() < deadline, "training did not start"
            assert all(r.poll() is None for r in ranks), ranks[0].stderr.read()[-3000:]
            time.sleep(0.2)
        os.kill(ranks[1].pid, signal.SIGSTOP)
        stopped = time.monotonic()
        ranks[0].wait(timeout=TIMEOUT + 60)
        waited = time.monotonic() - stopped
        err = ranks[0].stderr.read()
        assert ranks[0].returncode == 4, err[-3000:]
        # the timeout, then up to 3 s waiting for the other ranks' reports, then the exit
        assert waited < TIMEOUT + 20, f"rank 0 waited {waited:.1f} s for a {TIMEOUT} s timeout"
        paragraphs = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(paragraphs) == 1 and "Traceback" not in err, err[-3000:]
        message = paragraphs[0]
        assert f"timed out on rank 0 after {TIMEOUT} s" in message
        assert "rank 1 stopped responding" in message
        assert "--cfg-options env_cfg.dist_cfg.timeout=SECONDS" in message
    finally:
        for r in ranks:
            if r.poll() is None:
                r.kill()
                os.kill(r.pid, signal.SIGCONT)
                r.wait()
