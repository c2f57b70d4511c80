"""Damaged, non-finite or text checkpoints, and unwritable publish targets: one paragraph, exit 2.

Each checkpoint is tried in every tool that reads one: tools/train.py ``--resume`` and
``load_from``, tools/test.py and tools/publish_checkpoint.py.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import struct
import tempfile
import zipfile

import pytest
import torch
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from arsam.tools.cli import main
from arsam.tools.publish_checkpoint import run as publish_tool
from arsam.tools.test import run as evaluate_tool
from arsam.tools.train import run as train_tool
from tests.adapter.conftest import CONFIG
from tests.reliability.test_user_errors import one_paragraph, saved_checkpoint

TOOLS = ["resume", "load_from", "test", "publish"]


@pytest.fixture
def steps_forbidden(monkeypatch):
    """Fail the test if any training iteration starts."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a training step ran before the mistake was reported")

    monkeypatch.setattr(EpochBasedTrainLoop, "run_iter", forbidden)
    monkeypatch.setattr(IterBasedTrainLoop, "run_iter", forbidden)
    monkeypatch.delenv("ARSAM_DEBUG", raising=False)


def refused(capsys, tmp_path, how: str, path: str) -> str:
    """The paragraph with which the tool ``how`` refuses the checkpoint ``path``."""
    work = ["--work-dir", str(tmp_path / "work")]
    if how == "resume":
        return one_paragraph(capsys, train_tool, CONFIG, *work, "--resume", path)
    if how == "load_from":
        return one_paragraph(
            capsys, train_tool, CONFIG, *work, "--cfg-options", f"load_from={path}"
        )
    if how == "test":
        return one_paragraph(capsys, evaluate_tool, CONFIG, path, *work)
    message = one_paragraph(capsys, publish_tool, path, str(tmp_path / "published.pth"))
    assert not (tmp_path / "published.pth").exists()
    return message


def flip_tensor_bytes(path: str, count: int = 256) -> str:
    """Invert up to ``count`` bytes of the largest tensor record in place; the record's name."""
    with zipfile.ZipFile(path) as archive:
        records = [i for i in archive.infolist() if re.search(r"/data/\d+$", i.filename)]
    record = max(records, key=lambda info: info.file_size)
    with open(path, "r+b") as f:
        f.seek(record.header_offset + 26)  # the local header's name and extra-field lengths
        name_length, extra_length = struct.unpack("<HH", f.read(4))
        start = record.header_offset + 30 + name_length + extra_length
        f.seek(start)
        data = f.read(min(count, record.file_size))
        f.seek(start)
        f.write(bytes(b ^ 0xFF for b in data))
    return record.filename


def nonfinite_checkpoint(tmp_path, trained: bool = False) -> str:
    """A checkpoint of the toy model with one NaN weight (epoch 1 of a real run if ``trained``)."""
    path = saved_checkpoint(tmp_path)
    if trained:
        source = str(tmp_path / "trained")
        assert main(lambda: train_tool([CONFIG, "--work-dir", source])) == 0
        path = os.path.join(source, "epoch_1.pth")
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["state_dict"]["net.0.weight"][0, 0] = float("nan")
    torch.save(checkpoint, path)
    return path


@pytest.mark.usefixtures("steps_forbidden")
@pytest.mark.parametrize("how", TOOLS)
def test_flipped_bytes_in_a_tensor_are_refused(capsys, tmp_path, how: str) -> None:
    path = saved_checkpoint(tmp_path)
    record = flip_tensor_bytes(path)
    message = refused(capsys, tmp_path, how, path)
    assert "is damaged" in message and repr(record) in message and repr(path) in message


@pytest.mark.usefixtures("steps_forbidden")
@pytest.mark.parametrize("how", TOOLS)
def test_nonfinite_weights_are_refused(capsys, tmp_path, how: str) -> None:
    message = refused(capsys, tmp_path, how, nonfinite_checkpoint(tmp_path))
    assert "non-finite weights" in message and "net.0.weight" in message
    assert "--allow-nonfinite" in message and "allow_nonfinite_checkpoint=True" in message


def test_nonfinite_weights_are_evaluated_and_published_on_purpose(capsys, tmp_path) -> None:
    path = nonfinite_checkpoint(tmp_path)
    work = ["--work-dir", str(tmp_path / "work")]
    assert main(lambda: evaluate_tool([CONFIG, path, *work, "--allow-nonfinite"])) == 0
    published = tmp_path / "published.pth"
    assert main(lambda: publish_tool([path, str(published), "--allow-nonfinite"])) == 0
    weight = torch.load(published, weights_only=True)["state_dict"]["net.0.weight"]
    assert weight[0, 0].isnan()


@pytest.mark.parametrize("how", ["resume", "load_from"])
def test_nonfinite_weights_are_trained_on_purpose(capsys, tmp_path, how: str) -> None:
    path = nonfinite_checkpoint(tmp_path, trained=how == "resume")
    start = ["--resume", path] if how == "resume" else []
    options = ["allow_nonfinite_checkpoint=True"] + ([f"load_from={path}"] * (how == "load_from"))
    argv = [CONFIG, "--work-dir", str(tmp_path / "work"), *start, "--cfg-options", *options]
    assert main(lambda: train_tool(argv)) == 3  # loaded, trained, stopped by the NaN
    assert "the loss is nan" in capsys.readouterr().err


@pytest.mark.usefixtures("steps_forbidden")
@pytest.mark.parametrize("how", TOOLS)
@pytest.mark.parametrize("text", ["config", "notes"])
def test_text_file_given_as_a_checkpoint(capsys, tmp_path, how: str, text: str) -> None:
    path = tmp_path / "model.pth"
    if text == "config":
        shutil.copy(CONFIG, path)
    else:
        path.write_text("hello world\nthe weights are in epoch_3.pth\n")
    message = refused(capsys, tmp_path, how, str(path))
    assert "is a text file, not a PyTorch checkpoint" in message
    assert ("custom_imports" if text == "config" else "hello world") in message


@pytest.mark.usefixtures("steps_forbidden")
def test_the_pointer_file_given_as_a_checkpoint_names_its_target(capsys, tmp_path) -> None:
    path = saved_checkpoint(tmp_path)
    pointer = tmp_path / "last_checkpoint"
    pointer.write_text(path)
    message = refused(capsys, tmp_path, "test", str(pointer))
    assert "is a text file" in message and f"It names {path!r}" in message


@pytest.mark.usefixtures("steps_forbidden")
def test_publishing_onto_a_directory(capsys, tmp_path) -> None:
    path = saved_checkpoint(tmp_path)
    target = tmp_path / "published"
    target.mkdir()
    message = one_paragraph(capsys, publish_tool, path, str(target))
    assert "it is a directory" in message and "published.pth" in message
    assert os.listdir(target) == []


@pytest.mark.usefixtures("steps_forbidden")
def test_publishing_into_a_read_only_directory(capsys, tmp_path, monkeypatch) -> None:
    path = saved_checkpoint(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: refuse as the kernel refuses other users
        mkstemp = tempfile.mkstemp

        def permission_denied(*args, dir=None, **kwargs):
            if dir == str(locked):
                raise PermissionError(errno.EACCES, "Permission denied", dir)
            return mkstemp(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", permission_denied)
    message = one_paragraph(capsys, publish_tool, path, str(locked / "published.pth"))
    assert "cannot write the published checkpoint" in message and "Permission denied" in message
    assert os.listdir(locked) == []
