"""Every launcher: missing variables are one paragraph, and one task trains on gloo."""

from __future__ import annotations

import os
import sys

import pytest
import torch
import torch.distributed as dist

from arsam.tools.cli import main
from arsam.tools.train import parse_args
from arsam.tools.train import run as train_tool
from tests.adapter.test_distributed import free_port

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "launched_config.py")
LAUNCH_VARIABLES = (
    "RANK",
    "WORLD_SIZE",
    "LOCAL_RANK",
    "MASTER_ADDR",
    "MASTER_PORT",
    "SLURM_PROCID",
    "SLURM_NTASKS",
    "SLURM_NODELIST",
    "SLURM_LOCALID",
    "OMPI_COMM_WORLD_RANK",
    "OMPI_COMM_WORLD_SIZE",
    "OMPI_COMM_WORLD_LOCAL_RANK",
)


@pytest.fixture
def bare_environment(monkeypatch, tmp_path):
    """No launcher variables and no scontrol; everything set during the test is undone."""
    for name in LAUNCH_VARIABLES:  # set first, so that monkeypatch restores them afterwards
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.path.dirname(sys.executable)}")
    (tmp_path / "bin").mkdir()
    return monkeypatch


def train(capsys, tmp_path, launcher: str, *options: str) -> tuple[int, str]:
    argv = [CONFIG, "--work-dir", str(tmp_path / "work"), "--launcher", launcher, *options]
    code = main(lambda: train_tool(argv))
    return code, capsys.readouterr().err


def test_every_launcher_of_mmengine_is_accepted() -> None:
    for launcher in ("none", "pytorch", "slurm", "mpi"):
        assert parse_args([CONFIG, "--launcher", launcher]).launcher == launcher


@pytest.mark.parametrize(
    ("launcher", "missing", "fix"),
    [
        ("pytorch", "RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT", "tools/dist_train.sh CONFIG"),
        ("slurm", "SLURM_PROCID, SLURM_NTASKS, SLURM_NODELIST", "tools/slurm_train.sh"),
        ("mpi", "OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE", "mpirun -np N -x MASTER_ADDR"),
    ],
)
def test_missing_launcher_variables_are_one_paragraph(
    capsys, tmp_path, bare_environment, launcher, missing, fix
) -> None:
    code, err = train(capsys, tmp_path, launcher)
    assert code == 2 and err.startswith(f"error: --launcher {launcher} needs the variables")
    assert missing in err and fix in err and "Traceback" not in err
    assert not (tmp_path / "work").exists()  # nothing was started


def test_slurm_without_scontrol_needs_master_addr(capsys, tmp_path, bare_environment) -> None:
    for name, value in dict(SLURM_PROCID="0", SLURM_NTASKS="1", SLURM_NODELIST="localhost").items():
        bare_environment.setenv(name, value)
    code, err = train(capsys, tmp_path, "slurm")
    assert code == 2 and "scontrol" in err and "Set MASTER_ADDR" in err
    assert "'localhost'" in err and "Traceback" not in err


def fake_scontrol(folder) -> None:
    """An scontrol that expands any node list to localhost, as ``show hostnames`` prints it."""
    path = folder / "bin" / "scontrol"
    path.write_text('#!/bin/sh\n[ "$1 $2" = "show hostnames" ] && echo localhost\n')
    path.chmod(0o755)


@pytest.mark.parametrize("launcher", ["slurm", "mpi"])
def test_one_task_trains_on_gloo(capsys, tmp_path, bare_environment, launcher) -> None:
    if launcher == "slurm":
        fake_scontrol(tmp_path)  # the master address comes from scontrol, as on a cluster
        variables = dict(SLURM_PROCID="0", SLURM_NTASKS="1", SLURM_NODELIST="node[01-02]")
    else:
        variables = dict(
            OMPI_COMM_WORLD_RANK="0",
            OMPI_COMM_WORLD_SIZE="1",
            OMPI_COMM_WORLD_LOCAL_RANK="0",
            MASTER_ADDR="127.0.0.1",
        )
    for name, value in dict(variables, MASTER_PORT=str(free_port())).items():
        bare_environment.setenv(name, value)
    try:
        code, err = train(capsys, tmp_path, launcher, "--cfg-options", "train_cfg.max_epochs=2")
        assert code == 0, err
        assert dist.get_backend() == "gloo" and dist.get_world_size() == 1
        assert os.environ["MASTER_ADDR"] == ("localhost" if launcher == "slurm" else "127.0.0.1")
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    record = torch.load(tmp_path / "work" / "rank0.pt", weights_only=True)
    assert record["wrapper"] == "CPUDistributedDataParallel" and record["backend"] == "gloo"
    assert record["stats"]["steps"] == 8  # 32 samples, batch 8, 2 epochs
