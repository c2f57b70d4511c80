"""Config and command-line mistakes: one paragraph, exit 2, before any training step.

The autouse fixture of test_user_errors (imported below) fails a test if a training step
starts; the disk-full tests replace it with steps that do nothing, since a checkpoint is
written at the end of an epoch.
"""

from __future__ import annotations

import errno

import pytest
from mmengine.runner import EpochBasedTrainLoop

import arsam.core.training_infra.checkpoints as checkpoint_files
from arsam.core.training_infra.checkpoint_checks import read_checkpoint
from arsam.tools.cli import main
from arsam.tools.train import run as train_tool
from tests.adapter.conftest import CONFIG
from tests.reliability.test_user_errors import no_training_step, one_paragraph, train_with

__all__ = ["no_training_step"]  # the autouse fixture, active in this module too


def write_config(folder, name: str, text: str) -> str:
    """A config file ``name`` in ``folder`` with ``text``; its path."""
    path = folder / name
    path.write_text(text)
    return str(path)


def train_config(capsys, tmp_path, config: str, *argv: str) -> str:
    return one_paragraph(capsys, train_tool, config, "--work-dir", str(tmp_path / "w"), *argv)


def test_misspelt_default_hook_argument(capsys, tmp_path) -> None:
    message = train_with(capsys, tmp_path, "default_hooks.checkpoint.intervall=5")
    assert "default_hooks.checkpoint" in message and "'intervall'" in message
    assert "Did you mean 'interval'?" in message and "max_keep_ckpts" in message


def test_misspelt_custom_hook_argument(capsys, tmp_path) -> None:
    hook = "custom_hooks = [dict(type='EmptyCacheHook', after_epcoh=True)]\n"
    config = write_config(tmp_path, "hooks.py", f"_base_ = [{CONFIG!r}]\n{hook}")
    message = train_config(capsys, tmp_path, config)
    assert "custom_hooks[0]" in message and "EmptyCacheHook" in message
    assert "Did you mean 'after_epoch'?" in message and "before_epoch" in message


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("log_processor.window_sise=5", "Did you mean 'window_size'?"),
        ("visualizer.fig_save=None", "Did you mean 'fig_save_cfg'?"),
    ],
)
def test_misspelt_argument_of_other_built_objects(capsys, tmp_path, option, expected) -> None:
    message = train_with(capsys, tmp_path, option)
    assert option.split("=")[0].rsplit(".", 1)[0] in message and expected in message


@pytest.mark.parametrize(
    ("where", "expected_line"),
    [("config", 4), ("base", 2)],
)
def test_config_with_a_syntax_error(capsys, tmp_path, where: str, expected_line: int) -> None:
    broken = "x = 1\nmodel = dict(type='A'\n"
    if where == "config":
        config = write_config(tmp_path, "broken.py", f"_base_ = [{CONFIG!r}]\ny = 2\n{broken}")
        broken_file = config
    else:
        broken_file = write_config(tmp_path, "base.py", broken)
        config = write_config(tmp_path, "child.py", "_base_ = ['base.py']\n")
    message = train_config(capsys, tmp_path, config)
    assert broken_file in message and f"line {expected_line}" in message
    assert "syntax" in message.lower()


def test_config_with_a_missing_base(capsys, tmp_path) -> None:
    config = write_config(tmp_path, "child.py", "_base_ = ['../nowhere/base.py']\n")
    message = train_config(capsys, tmp_path, config)
    assert config in message and "nowhere/base.py" in message and "_base_" in message


@pytest.mark.parametrize(
    ("name", "expected"),
    [("notes.txt", "not a config file"), ("epoch_3.pth", "is a checkpoint, not a config")],
)
def test_file_that_is_not_a_config(capsys, tmp_path, name: str, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"PK\x03\x04 not a config")
    message = train_config(capsys, tmp_path, str(path))
    assert expected in message and ".py" in message


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("foo", "is not KEY=VALUE"),
        ("=5", "is not KEY=VALUE"),
        ("train_cfg..max_epochs=5", "is not KEY=VALUE"),
        ("train_cfg.max_epochs=[1,2", "brackets"),
        ("train_cfg.max_epochs.x=5", "train_cfg.max_epochs is 2"),
        ("visualizer.vis_backends.3.type=X", "has 1 entries"),
    ],
)
def test_malformed_cfg_options(capsys, tmp_path, option: str, expected: str) -> None:
    message = train_with(capsys, tmp_path, option)
    assert f"--cfg-options {option}" in message and expected in message


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("optim_wrapper.optimizer=5", "optim_wrapper.optimizer must be a dict with a 'type'"),
        ("optim_wrapper=5", "optim_wrapper must be a dict"),
    ],
)
def test_optimizer_that_is_not_a_dict(capsys, tmp_path, option: str, expected: str) -> None:
    message = train_with(capsys, tmp_path, option)
    assert expected in message and "got 5" in message


def failing_writes(monkeypatch, error: OSError, succeed: int) -> None:
    """Let the first ``succeed`` checkpoint writes through; raise ``error`` for the others."""
    write = checkpoint_files.write_atomically
    calls = []

    def write_or_fail(data, filepath) -> None:
        calls.append(filepath)
        if len(calls) > succeed:
            raise error
        write(data, filepath)

    monkeypatch.setattr(checkpoint_files, "write_atomically", write_or_fail)
    monkeypatch.setattr(EpochBasedTrainLoop, "run_iter", lambda self, idx, batch: None)


def test_disk_full_while_saving_a_checkpoint(capsys, tmp_path, monkeypatch) -> None:
    # a full disk fails the write() of the temporary file: the error names no file
    failing_writes(monkeypatch, OSError(errno.ENOSPC, "No space left on device"), succeed=1)
    work = tmp_path / "work"
    message = one_paragraph(capsys, train_tool, CONFIG, "--work-dir", str(work))
    assert "no space left" in message.lower() and "intact" in message
    assert "last_checkpoint" in message and "--resume" in message
    newest = (work / "last_checkpoint").read_text().strip()
    assert newest.endswith("epoch_1.pth") and read_checkpoint(newest)["meta"]["epoch"] == 1


def test_read_only_file_system_while_saving_a_checkpoint(capsys, tmp_path, monkeypatch) -> None:
    # creating the temporary file fails: the error names it
    work = tmp_path / "work"
    partial = str(work / ".partial-x")
    failing_writes(monkeypatch, OSError(errno.EROFS, "Read-only file system", partial), succeed=1)
    message = one_paragraph(capsys, train_tool, CONFIG, "--work-dir", str(work))
    assert "read-only" in message.lower() and partial in message and "intact" in message
    assert str(work / "epoch_1.pth") in message and "--resume" in message


def test_other_os_errors_keep_their_traceback(tmp_path, monkeypatch) -> None:
    failing_writes(monkeypatch, OSError(errno.EINVAL, "Invalid argument"), succeed=0)
    with pytest.raises(OSError):
        main(lambda: train_tool([CONFIG, "--work-dir", str(tmp_path / "work")]))
