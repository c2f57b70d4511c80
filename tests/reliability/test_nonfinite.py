"""A run whose loss turns NaN stops with one paragraph and exit code 3, its checkpoints finite."""

from __future__ import annotations

import glob

import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from arsam.tools.cli import build_runner, main
from arsam.tools.train import run as train_tool
from tests.adapter.conftest import CONFIG


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


class PoisonOneBatch(Hook):
    """Fills iteration ``at``'s inputs with NaN; keeps BatchNorm's statistics around it."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.before: dict[str, torch.Tensor] = {}
        self.after: dict[str, torch.Tensor] = {}

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter + 1 == self.at:
            self.before = batchnorm_statistics(runner.model)
            data_batch["inputs"].fill_(float("nan"))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.at:
            self.after = batchnorm_statistics(runner.model)


def batchnorm_statistics(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Copies of the running statistics of every BatchNorm layer of ``model``."""
    return {
        name: buffer.clone()
        for name, buffer in model.named_buffers()
        if name.rsplit(".", 1)[-1] in ("running_mean", "running_var", "num_batches_tracked")
    }


def test_a_nan_batch_leaves_batchnorm_statistics_unchanged(tmp_path) -> None:
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir, cfg.launcher = str(tmp_path / "work"), "none"
    cfg.optim_wrapper.optimizer.skip_nonfinite = True
    cfg.train_cfg.max_epochs = 1
    runner = build_runner(cfg)
    poison = PoisonOneBatch(at=3)
    runner.register_hook(poison)
    runner.train()
    assert runner.optim_wrapper.optimizer.stats["skipped_steps"] == 1
    assert poison.before and poison.before.keys() == poison.after.keys()
    for name, value in poison.before.items():
        assert torch.isfinite(value.float()).all(), name
        assert torch.equal(value, poison.after[name]), name
    assert int(runner.model.net[1].num_batches_tracked) == 3  # the 3 finite batches of 4
