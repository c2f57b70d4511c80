"""tools/train.py and tools/test.py end to end on the real classification configs."""

from __future__ import annotations

import glob
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tool(name: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="2", PYTHONPATH=ROOT)
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", name), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_missing_dataset_is_one_paragraph_not_a_traceback(tmp_path) -> None:
    done = tool(
        "train.py",
        "configs/classification/resnet18_cifar10_arsam.py",
        "--work-dir",
        str(tmp_path),
        "--cfg-options",
        f"train_dataloader.dataset.data_root={tmp_path}/nowhere",
        "train_dataloader.num_workers=0",
        "train_dataloader.persistent_workers=False",
    )
    assert done.returncode == 2
    assert "error:" in done.stderr and "cifar-10-batches-py" in done.stderr
    assert "Traceback" not in done.stderr


def test_train_then_test_a_checkpoint_with_tensorboard(tmp_path) -> None:
    work = str(tmp_path / "digits")
    done = tool(
        "train.py",
        "configs/classification/digits_arsam.py",
        "--work-dir",
        work,
        "--cfg-options",
        "train_cfg.max_epochs=2",
        "visualizer.vis_backends.0.type=TensorboardVisBackend",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "last checkpoint:" in done.stdout and "epoch_2.pth" in done.stdout
    events = glob.glob(f"{work}/*/vis_data/events.out.tfevents.*")
    assert events, "TensorBoard received nothing"
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(events[0])
    accumulator.Reload()
    assert {"sam_fraction", "quota", "grad_evals"} <= set(accumulator.Tags()["scalars"])

    tested = tool(
        "test.py",
        "configs/classification/digits_arsam.py",
        f"{work}/epoch_2.pth",
        "--work-dir",
        str(tmp_path / "test"),
    )
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert "accuracy/top1" in tested.stdout
