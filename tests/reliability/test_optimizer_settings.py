"""SAMOptimWrapper's checkpoint carries every optimizer hyper-parameter and a resume checks them."""

from __future__ import annotations

import pytest
import torch

from arsam.core.training_infra.checkpoint_checks import CheckpointError, check_optimizer_settings
from arsam.tools.cli import main
from arsam.tools.train import run as train_tool
from tests.adapter.conftest import CONFIG

# Per-parameter groups (MMEngine then keeps base_param_settings next to them).
GROUPS = [
    "optim_wrapper.paramwise_cfg.norm_decay_mult=0.0",
    "optim_wrapper.optimizer.base_optimizer.weight_decay=0.0001",
]


def train(tmp_path, *options: str, resume: bool = False) -> int:
    argv = [CONFIG, "--work-dir", str(tmp_path / "work"), *(["--resume"] if resume else [])]
    argv += ["--cfg-options", *GROUPS, *options]
    return main(lambda: train_tool(argv))


def test_resume_checks_every_hyperparameter(capsys, tmp_path) -> None:
    assert train(tmp_path, "train_cfg.max_epochs=1") == 0
    saved = torch.load(tmp_path / "work" / "epoch_1.pth", weights_only=True)["optimizer"]
    assert len(saved["param_groups"]) > 1
    assert saved["base_param_settings"]["lr"] == 0.1
    assert saved["base_param_settings"]["momentum"] == 0.9
    assert {g["weight_decay"] for g in saved["param_groups"]} == {0.0, 0.0001}
    capsys.readouterr()

    changed = ["train_cfg.max_epochs=2", "optim_wrapper.optimizer.base_optimizer.momentum=0.5"]
    assert train(tmp_path, *changed, resume=True) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "does not fit this run" in lines[0]
    assert "momentum: checkpoint 0.9, this run 0.5 (parameter groups 0-5)" in lines[0]
    assert "load_from=PATH instead of --resume" in lines[0]

    assert train(tmp_path, "train_cfg.max_epochs=2", resume=True) == 0
    resumed = torch.load(tmp_path / "work" / "epoch_2.pth", weights_only=True)["optimizer"]
    assert resumed["base_param_settings"] == saved["base_param_settings"]


def group(**settings: object) -> dict:
    return {"params": [0, 1], "lr": 0.1, "momentum": 0.9, "foreach": None, **settings}


def test_scheduled_and_implementation_settings_are_not_differences() -> None:
    # a scheduler moved lr (its initial value is the same); foreach picks a kernel only
    saved = [group(lr=0.02, initial_lr=0.1, foreach=True)]
    check_optimizer_settings(saved, [group(lr=0.1, initial_lr=0.1)])
    with pytest.raises(CheckpointError, match=r"initial_lr: checkpoint 0\.1, this run 0\.2"):
        check_optimizer_settings(saved, [group(lr=0.2, initial_lr=0.2)])


def test_another_base_optimizer_or_grouping_is_refused() -> None:
    adam = {"params": [0, 1], "lr": 0.1, "betas": (0.9, 0.999)}
    with pytest.raises(CheckpointError, match=r"momentum: checkpoint 0\.9, this run has no such"):
        check_optimizer_settings([group()], [adam])
    with pytest.raises(CheckpointError, match=r"2 parameters in the checkpoint, 1 in this run"):
        check_optimizer_settings([group()], [group(params=[0])])
    with pytest.raises(CheckpointError, match="holds 2 parameter groups, this run's optimizer 1"):
        check_optimizer_settings([group(), group()], [group()])
