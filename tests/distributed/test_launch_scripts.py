"""The launch scripts pass MMPose's variables and arguments on to torchrun and srun."""

from __future__ import annotations

import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(ROOT, "tools")


def echo_command(folder, name: str) -> str:
    """A stand-in for ``name`` that prints its arguments, one a line."""
    path = folder / name
    path.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@"\n')
    path.chmod(0o755)
    return str(path)


def run_script(script: str, args: list[str], env: dict) -> list[str]:
    done = subprocess.run(
        ["bash", os.path.join(TOOLS, script), *args],
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_dist_train_takes_nnodes_node_rank_master_addr_and_port(tmp_path) -> None:
    python = echo_command(tmp_path, "python")
    env = dict(PYTHON=python, NNODES="2", NODE_RANK="1", MASTER_ADDR="10.0.0.7", PORT="29601")
    printed = run_script("dist_train.sh", ["a/config.py", "4", "--amp"], env)
    assert printed[:7] == [
        "-m",
        "torch.distributed.run",
        "--nnodes=2",
        "--node_rank=1",
        "--master_addr=10.0.0.7",
        "--nproc_per_node=4",
        "--master_port=29601",
    ]
    assert printed[7].endswith("tools/train.py")
    assert printed[8:] == ["a/config.py", "--launcher", "pytorch", "--amp"]


def test_dist_test_defaults_to_one_machine(tmp_path) -> None:
    python = echo_command(tmp_path, "python")
    env = dict(PYTHON=python)
    for name in ("NNODES", "NODE_RANK", "MASTER_ADDR", "PORT"):
        env[name] = ""
    printed = run_script("dist_test.sh", ["c.py", "w.pth", "2", "--work-dir", "out"], env)
    assert "--nnodes=1" in printed and "--node_rank=0" in printed
    assert "--master_addr=127.0.0.1" in printed and "--master_port=29500" in printed
    assert printed[7].endswith("tools/test.py")
    assert printed[8:] == ["c.py", "w.pth", "--launcher", "pytorch", "--work-dir", "out"]


def test_slurm_scripts_pass_the_slurm_launcher(tmp_path) -> None:
    echo_command(tmp_path, "srun")
    env = dict(
        PATH=f"{tmp_path}:{os.environ['PATH']}",
        PYTHON="python",
        GPUS="16",
        GPUS_PER_NODE="4",
        CPUS_PER_TASK="3",
        SRUN_ARGS="--time=10 --exclusive",
    )
    printed = run_script("slurm_train.sh", ["part", "job", "c.py", "work", "--amp"], env)
    assert printed[:8] == [
        "-p",
        "part",
        "--job-name=job",
        "--gres=gpu:4",
        "--ntasks=16",
        "--ntasks-per-node=4",
        "--cpus-per-task=3",
        "--kill-on-bad-exit=1",
    ]
    assert printed[8:12] == ["--time=10", "--exclusive", "python", "-u"]
    assert printed[12].endswith("tools/train.py")
    assert printed[13:] == ["c.py", "--work-dir=work", "--launcher", "slurm", "--amp"]
    printed = run_script("slurm_test.sh", ["part", "job", "c.py", "w.pth"], env)
    assert printed[12].endswith("tools/test.py")
    assert printed[13:] == ["c.py", "w.pth", "--launcher", "slurm"]
