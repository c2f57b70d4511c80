"""Checkpoint files: new before old is deleted, atomic pointer, cleaned up, publishable."""

from __future__ import annotations

import os
import subprocess
import sys

import torch

from arsam.core.training_infra.checkpoint_checks import find_resumable_checkpoint
from arsam.core.training_infra.checkpoints import PARTIAL_PREFIX
from arsam.tools.cli import main
from arsam.tools.test import run as evaluate_tool
from arsam.tools.train import run as train_tool
from tests.adapter.conftest import CONFIG

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROTATING = ["default_hooks.checkpoint.max_keep_ckpts=1", "train_cfg.max_epochs=3"]


def train(work: str, *options: str) -> int:
    return main(lambda: train_tool([CONFIG, "--work-dir", work, "--cfg-options", *options]))


def test_old_checkpoint_is_deleted_only_after_the_new_one_and_the_pointer(tmp_path, monkeypatch):
    work = str(tmp_path / "work")
    pointer = os.path.join(work, "last_checkpoint")
    checked = []
    remove = os.remove

    def checked_remove(path, *args, **kwargs):
        if path.endswith(".pth"):
            with open(pointer) as f:
                named = f.read().strip()
            assert named != path and os.path.isfile(named), "pointer would name nothing"
            checked.append(os.path.basename(path))
        return remove(path, *args, **kwargs)

    monkeypatch.setattr(os, "remove", checked_remove)
    assert train(work, *ROTATING) == 0
    assert checked == ["epoch_1.pth", "epoch_2.pth"]
    assert sorted(n for n in os.listdir(work) if n.endswith(".pth")) == ["epoch_3.pth"]


def test_partial_files_are_removed_and_permissions_follow_the_umask(tmp_path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / f"{PARTIAL_PREFIX}left_by_a_kill").write_bytes(b"half a checkpoint")
    old = os.umask(0o027)
    try:
        assert train(str(work), "train_cfg.max_epochs=1") == 0
    finally:
        os.umask(old)
    assert not [n for n in os.listdir(work) if n.startswith(PARTIAL_PREFIX)]
    assert os.stat(work / "epoch_1.pth").st_mode & 0o777 == 0o640


def test_resume_falls_back_to_the_newest_complete_checkpoint(tmp_path) -> None:
    work = tmp_path / "work"
    assert (
        train(str(work), "default_hooks.checkpoint.max_keep_ckpts=2", "train_cfg.max_epochs=2") == 0
    )
    (work / "epoch_2.pth").write_bytes(b"damaged")
    assert find_resumable_checkpoint(str(work)) == str(work / "epoch_1.pth")
    (work / "epoch_2.pth").unlink()
    assert find_resumable_checkpoint(str(work)) == str(work / "epoch_1.pth")
    (work / "last_checkpoint").unlink()
    assert find_resumable_checkpoint(str(work)) == str(work / "epoch_1.pth")


def test_published_checkpoint_loads_without_the_project(tmp_path, capsys) -> None:
    work = tmp_path / "work"
    assert train(str(work), "train_cfg.max_epochs=1") == 0
    published = tmp_path / "published.pth"
    tool = [
        sys.executable,
        "tools/publish_checkpoint.py",
        str(work / "epoch_1.pth"),
        str(published),
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT)
    assert subprocess.run(tool, env=env, cwd=ROOT, capture_output=True, timeout=300).returncode == 0
    plain = (
        "import sys, torch; c = torch.load(sys.argv[1], weights_only=True); "
        "assert set(c) == {'state_dict', 'meta'}, set(c)"
    )
    for path, expected in ((published, 0), (work / "epoch_1.pth", 1)):
        done = subprocess.run(
            [sys.executable, "-c", plain, str(path)], cwd=tmp_path, capture_output=True, timeout=300
        )
        assert done.returncode == expected, done.stderr[-2000:]
    import mmpose

    publish_model = os.path.join(
        os.path.dirname(mmpose.__file__), ".mim", "tools", "misc", "publish_model.py"
    )
    if os.path.isfile(publish_model):
        done = subprocess.run(
            [sys.executable, publish_model, str(published), str(tmp_path / "mmpose.pth")],
            cwd=tmp_path,
            capture_output=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    capsys.readouterr()
    assert main(lambda: evaluate_tool([CONFIG, str(published), "--work-dir", str(tmp_path)])) == 0
    assert torch.load(published, weights_only=True)["meta"]["epoch"] == 1
