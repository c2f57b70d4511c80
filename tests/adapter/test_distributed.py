"""Two CPU processes launched like torchrun take the same ARSAM decisions and stay in sync."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
import torch

from tests.adapter.conftest import CONFIG

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dist_train_two(config: str, work: str, *options: str) -> None:
    """``tools/dist_train.sh CONFIG 2 --work-dir WORK [options]`` on gloo; fails on its stderr."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHON=sys.executable, PORT=str(free_port()))
    done = subprocess.run(
        ["bash", "tools/dist_train.sh", config, "2", "--work-dir", work, *options],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.parametrize("schedule", ["paper", "horizon"])
def test_two_rank_gloo_run_agrees_on_every_decision(tmp_path, schedule: str) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT, MASTER_ADDR="127.0.0.1")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        f"--master_port={free_port()}",
        os.path.join(ROOT, "tests", "adapter", "ddp_worker.py"),
        CONFIG,
        str(tmp_path / "work"),
        str(tmp_path),
        schedule,
    ]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert rank0["wrapper"] == "CPUDistributedDataParallel"
    assert rank0["schedule"] == rank1["schedule"] == schedule
    assert rank0["sam_steps"] == rank1["sam_steps"]
    assert rank0["stats"] == rank1["stats"]
    steps, sam_steps = rank0["stats"]["steps"], rank0["stats"]["sam_steps"]
    assert steps == 10  # 16 samples per rank, batch 8, 5 epochs
    # paper: warm-up (1 epoch = 2 steps) and some sampled SAM steps; horizon: its budget
    assert (2 if schedule == "paper" else 1) <= sam_steps < steps
    for record in (rank0, rank1):  # the model really ran a second forward on SAM steps
        assert record["loss_forwards"] == steps + sam_steps
    for p, q in zip(rank0["weights"], rank1["weights"]):
        assert torch.equal(p, q)
