"""Every user mistake: one paragraph, exit code 2, no traceback, before any training step."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest
import torch
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from arsam.tools.cli import UserError, main
from arsam.tools.test import run as evaluate_tool
from arsam.tools.train import run as train_tool
from tests.adapter.conftest import CONFIG

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(autouse=True)
def no_training_step(monkeypatch):
    """Fail the test if any training iteration starts."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a training step ran before the mistake was reported")

    monkeypatch.setattr(EpochBasedTrainLoop, "run_iter", forbidden)
    monkeypatch.setattr(IterBasedTrainLoop, "run_iter", forbidden)
    monkeypatch.delenv("ARSAM_DEBUG", raising=False)


def one_paragraph(capsys, tool, *argv: str) -> str:
    """Run the tool in this process; assert exit 2 and one 'error:' paragraph; return it."""
    code = main(lambda: tool(list(argv)))
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def train_with(capsys, tmp_path, *options: str, config: str = CONFIG) -> str:
    argv = [config, "--work-dir", str(tmp_path / "work")]
    if options:
        argv += ["--cfg-options", *options]
    return one_paragraph(capsys, train_tool, *argv)


def saved_checkpoint(tmp_path, name: str = "epoch_1.pth", **cfg_options: object) -> str:
    """A real checkpoint of the toy config (one epoch), written without the forbidden steps."""
    from mmengine.config import Config

    from arsam.tools.cli.runs import build_runner

    cfg = Config.fromfile(CONFIG)
    cfg.work_dir, cfg.launcher = str(tmp_path / "source"), "none"
    cfg.merge_from_dict(cfg_options)
    runner = build_runner(cfg)
    runner.call_hook("before_run")
    runner.train_loop  # noqa: B018
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    runner.save_checkpoint(cfg.work_dir, name)
    return os.path.join(cfg.work_dir, name)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is empty"),
        (random.Random(0).randbytes(4096), "not a readable PyTorch checkpoint"),
        (b"PK\x03\x04 truncated zip", "not a readable PyTorch checkpoint"),
    ],
    ids=["empty", "random", "truncated"],
)
def test_corrupt_empty_or_random_checkpoint(capsys, tmp_path, content, expected) -> None:
    path = tmp_path / "bad.pth"
    path.write_bytes(content)
    message = train_with(capsys, tmp_path, f"load_from={path}")
    assert expected in message and "weights_only=False" not in message
    message = one_paragraph(capsys, evaluate_tool, CONFIG, str(path))
    assert expected in message


def test_checkpoint_with_untrusted_objects_is_refused_safely(capsys, tmp_path) -> None:
    import datetime

    path = tmp_path / "objects.pth"
    torch.save({"state_dict": {}, "when": datetime.date(2020, 1, 1)}, path)
    message = one_paragraph(capsys, evaluate_tool, CONFIG, str(path))
    assert "safe loader" in message and "datetime" in message
    assert "weights_only=False" not in message


def test_resuming_a_weights_only_checkpoint_names_load_from(capsys, tmp_path) -> None:
    path = saved_checkpoint(tmp_path)
    best = tmp_path / "best_accuracy_epoch_1.pth"
    checkpoint = torch.load(path, weights_only=True)
    del checkpoint["optimizer"]
    torch.save(checkpoint, best)
    argv = [CONFIG, "--work-dir", str(tmp_path / "work"), "--resume", str(best)]
    message = one_paragraph(capsys, train_tool, *argv)
    assert "holds no state of the optimizer" in message and "load_from" in message


@pytest.mark.parametrize("how", ["resume", "load_from", "test"])
def test_checkpoint_of_another_model(capsys, tmp_path, how: str) -> None:
    path = saved_checkpoint(tmp_path, **{"model.width": 16})
    work = ["--work-dir", str(tmp_path / "work")]
    if how == "resume":
        message = one_paragraph(capsys, train_tool, CONFIG, *work, "--resume", path)
    elif how == "load_from":
        message = one_paragraph(
            capsys, train_tool, CONFIG, *work, "--cfg-options", f"load_from={path}"
        )
    else:
        message = one_paragraph(capsys, evaluate_tool, CONFIG, path, *work)
    assert "was not written by the model of this config" in message
    assert "differ in shape" in message


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("optim_wrapper.optimizer.rho=-1", "rho must lie in"),
        ("optim_wrapper.optimizer.window=0", "window must lie in"),
        ("optim_wrapper.optimizer.reuse_decay=2", "reuse_decay must lie in"),
        ("optim_wrapper.optimizer.max_sam_fraction=0", "max_sam_fraction must lie in"),
        ("optim_wrapper.optimizer.var_blocks=0", "var_blocks must lie in"),
        ("optim_wrapper.optimizer.reuse_steps=-1", "reuse_steps must lie in"),
        ("optim_wrapper.accumulative_counts=2", "does not support accumulative_counts"),
        ("optim_wrapper.clip_grad.type=value", "clipping by value"),
        ("train_dataloader.persistent_workers=True", "persistent_workers=True needs worker"),
        ("optim_wrapper.optimizer.windw=10", "no argument 'windw'. Did you mean 'window'?"),
        ("optim_wrapper.optimizer.base_optimizer.momentun=0.9", "Did you mean 'momentum'?"),
        ("optim_wrapper.type=OptimWrapper", "only SAMOptimWrapper can do"),
        ("optim_wrapper.optimizer.warmup_epochs=-1", "warmup_epochs must be a number"),
    ],
)
def test_config_mistakes(capsys, tmp_path, option: str, expected: str) -> None:
    message = train_with(capsys, tmp_path, option)
    assert expected in message
    assert "SGD.__init__" not in message


def test_unwritable_work_dir(capsys, tmp_path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    message = one_paragraph(capsys, train_tool, CONFIG, "--work-dir", str(blocker / "work"))
    assert "cannot write to the work directory" in message and "--work-dir" in message


def test_launcher_pytorch_without_torchrun(capsys, tmp_path, monkeypatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    argv = [CONFIG, "--work-dir", str(tmp_path), "--launcher", "pytorch"]
    message = one_paragraph(capsys, train_tool, *argv)
    assert "tools/dist_train.sh" in message


def test_debug_switch_shows_the_traceback(capsys, tmp_path, monkeypatch) -> None:
    argv = [CONFIG, "--work-dir", str(tmp_path), "--cfg-options", "optim_wrapper.optimizer.rho=-1"]
    monkeypatch.setenv("ARSAM_DEBUG", "1")
    with pytest.raises(UserError) as raised:
        main(lambda: train_tool(argv))
    assert isinstance(raised.value.__cause__, ValueError)  # the original error, with its trace
    monkeypatch.delenv("ARSAM_DEBUG")
    with pytest.raises(UserError):
        main(lambda: train_tool([*argv, "--debug"]))


def test_one_paragraph_from_the_real_command_line(tmp_path) -> None:
    bad = tmp_path / "bad.pth"
    bad.write_bytes(random.Random(1).randbytes(1000))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT)
    env.pop("ARSAM_DEBUG", None)
    done = subprocess.run(
        [
            sys.executable,
            "tools/train.py",
            CONFIG,
            "--work-dir",
            str(tmp_path),
            "--resume",
            str(bad),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.count("error:") == 1
    assert "not a readable PyTorch checkpoint" in done.stderr


HORIZON_ARSAM = dict(
    _delete_=True,
    type="ARSAM",
    base_optimizer=dict(type="SGD", lr=0.1, momentum=0.9),
    rho=0.05,
)


def test_resume_with_other_schedule_settings_is_refused_before_any_step(capsys, tmp_path) -> None:
    # The wrapper gives ARSAM the run's length before the first step; the checkpoint's
    # schedule settings (saved before any step, without a length) are checked against it.
    checkpoint = saved_checkpoint(tmp_path, **{"optim_wrapper.optimizer": HORIZON_ARSAM})
    horizon = [
        "optim_wrapper.optimizer._delete_=True",
        "optim_wrapper.optimizer.type=ARSAM",
        "optim_wrapper.optimizer.base_optimizer.type=SGD",
        "optim_wrapper.optimizer.base_optimizer.lr=0.1",
        "optim_wrapper.optimizer.rho=0.05",
    ]
    argv = [CONFIG, "--work-dir", str(tmp_path / "work"), "--resume", checkpoint]
    argv += ["--cfg-options", "train_cfg.max_epochs=5", *horizon]
    message = one_paragraph(capsys, train_tool, *argv)
    assert "does not fit this run" in message and "ARSAM" in message
    assert "total_steps: checkpoint None, this optimizer 20" in message
