"""A run whose loss turns NaN stops with one paragraph and exit code 3, its checkpoints finite."""

from __future__ import annotations

import glob

import torch

from tests.adapter.conftest import CONFIG
from tools.cli import main
from tools.train import run as train_tool


def run(tmp_path, *options: str) -> int:
    work = str(tmp_path / "work")
    argv = [CONFIG, "--work-dir", work, "--cfg-options", "train_cfg.max_epochs=4", *options]
    return main(lambda: train_tool(argv))


def test_nan_loss_stops_the_run_before_a_checkpoint_of_it(capsys, tmp_path) -> None:
    code = run(tmp_path, "model.nan_after=9")  # the 6th iteration (3 SAM passes in warm-up)
    err = capsys.readouterr().err
    assert code == 3
    assert "error: training stopped at iteration" in err and "the loss is nan" in err
    assert "skip_nonfinite=True" in err and "Traceback" not in err
    checkpoints = glob.glob(str(tmp_path / "work" / "epoch_*.pth"))
    assert [p.rsplit("/", 1)[1] for p in checkpoints] == ["epoch_1.pth"]
    weights = torch.load(checkpoints[0], weights_only=True)["state_dict"]
    assert all(torch.isfinite(t).all() for t in weights.values() if t.is_floating_point())


def test_with_skip_nonfinite_the_run_continues(tmp_path) -> None:
    code = run(tmp_path, "model.nan_after=9", "optim_wrapper.optimizer.skip_nonfinite=True")
    assert code == 0
    last = torch.load(tmp_path / "work" / "epoch_4.pth", weights_only=True)
    assert last["optimizer"]["counters"]["skipped_steps"] > 0
    weights = [t for t in last["state_dict"].values() if t.is_floating_point()]
    assert all(torch.isfinite(t).all() for t in weights)
