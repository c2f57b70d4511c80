"""tools/train.py's --no-validate and --auto-scale-lr, tools/test.py's --out, --dump, --show-dir
and --show, on the digits config and the synthetic pose config (a few iterations each)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from mmengine.config import Config

from arsam.tools.cli.config import enable_visualization, load_config
from arsam.tools.cli.errors import UserError
from tests.pose.helpers import logged_records
from tests.tools.helpers import DIGITS_CONFIG, SHORT_DIGITS, exit_code, load_script, tool_argv

TRAIN, TEST = load_script("train.py"), load_script("test.py")


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Digits trained one epoch (6 iterations of 256) without validation, lr auto-scaled."""
    work_dir = tmp_path_factory.mktemp("digits_flags")
    argv = tool_argv(DIGITS_CONFIG, "--work-dir", work_dir, "--no-validate", "--auto-scale-lr")
    runner = TRAIN.run([*argv, "train_cfg.max_epochs=1", *SHORT_DIGITS])
    return dict(runner=runner, work_dir=work_dir)


@pytest.fixture(scope="module")
def pose_run(pose_config: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Synthetic pose trained one epoch (3 iterations of 4) without validation, lr auto-scaled."""
    work_dir = tmp_path_factory.mktemp("pose_flags")
    argv = tool_argv(pose_config, "--work-dir", work_dir, "--no-validate", "--auto-scale-lr")
    return dict(runner=TRAIN.run(argv), work_dir=work_dir)


def assert_trained_without_validation(run: dict, metric: str) -> None:
    records = logged_records(run["work_dir"])
    assert [r for r in records if "loss" in r], "no training iteration logged"
    assert not [r for r in records if metric in r]
    assert run["runner"].val_loop is None
    assert (run["work_dir"] / "epoch_1.pth").is_file()
    assert not list(run["work_dir"].glob("best_*.pth"))


def test_no_validate_on_digits(digits_run: dict) -> None:
    assert_trained_without_validation(digits_run, "accuracy/top1")


def test_no_validate_on_pose(pose_run: dict) -> None:
    assert_trained_without_validation(pose_run, "coco/AP")


def test_auto_scale_lr_on_digits(digits_run: dict) -> None:
    # SGD lr 0.05 tuned for batch 64 (auto_scale_lr.base_batch_size), trained at batch 256
    group = digits_run["runner"].optim_wrapper.param_groups[0]
    assert group["initial_lr"] == pytest.approx(0.05 * 256 / 64)


def test_auto_scale_lr_on_pose(pose_run: dict) -> None:
    # Adam lr 2e-3 tuned for batch 16 (the synthetic config's base), trained at batch 4
    group = pose_run["runner"].optim_wrapper.param_groups[0]
    assert group["initial_lr"] == pytest.approx(2e-3 * 4 / 16)


def test_auto_scale_lr_needs_a_base_batch_size(capsys: pytest.CaptureFixture) -> None:
    argv = tool_argv(
        DIGITS_CONFIG, "--auto-scale-lr", options=("auto_scale_lr.base_batch_size=None",)
    )
    assert exit_code(TRAIN.run, argv) == 2
    error = capsys.readouterr().err
    assert "--auto-scale-lr" in error and "auto_scale_lr = dict(base_batch_size=N)" in error


def test_out_and_dump_on_digits(digits_run: dict, tmp_path: Path) -> None:
    out, dump = tmp_path / "results" / "metrics.json", tmp_path / "predictions.pkl"
    checkpoint = digits_run["work_dir"] / "epoch_1.pth"
    flags = ["--out", out, "--dump", dump, "--work-dir", tmp_path]
    metrics = TEST.run(tool_argv(DIGITS_CONFIG, checkpoint, *flags, options=("log_level=WARNING",)))
    assert json.loads(out.read_text()) == pytest.approx(metrics)
    assert 0 <= metrics["accuracy/top1"] <= 100
    predictions = pickle.loads(dump.read_bytes())
    assert len(predictions) == 450 and {"scores", "pred_label", "gt_label"} <= set(predictions[0])
    # each prediction pickles its own 10 scores, not the 256x10 batch they were cut from
    assert dump.stat().st_size < 1000 * len(predictions), dump.stat().st_size


def test_out_dump_and_show_dir_on_pose(pose_run: dict, pose_config: Path, tmp_path: Path) -> None:
    out, dump, shown = tmp_path / "metrics.yaml", tmp_path / "predictions.pkl", tmp_path / "shown"
    checkpoint = pose_run["work_dir"] / "epoch_1.pth"
    flags = ["--out", out, "--dump", dump, "--show-dir", shown, "--work-dir", tmp_path]
    metrics = TEST.run(tool_argv(pose_config, checkpoint, *flags))
    assert "coco/AP" in metrics and "coco/AP" in out.read_text()
    predictions = pickle.loads(dump.read_bytes())
    drawn = sorted(shown.glob("*.jpg"))
    assert predictions and len(drawn) == len(predictions)  # one drawing per person instance
    assert all("keypoints" in p["pred_instances"] for p in predictions)


def test_show_dir_without_a_visualization_hook_is_one_paragraph(tmp_path: Path) -> None:
    # a config with no default_hooks.visualization that does not import arsam.tasks.classification
    cfg = Config(
        dict(default_hooks=dict(), custom_imports=dict(imports=["arsam.core.mmengine_adapter"]))
    )
    with pytest.raises(UserError, match="has neither") as refused:
        enable_visualization(cfg, str(tmp_path / "shown"), show=False, wait_time=1.0)
    assert "--dump FILE.pkl" in str(refused.value)
    assert not (tmp_path / "shown").exists()


def test_show_enables_the_pose_hook(pose_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", ":0")
    cfg = load_config(str(pose_config))
    enable_visualization(cfg, None, show=True, wait_time=2.5)
    hook = cfg.default_hooks.visualization
    assert hook.enable and hook.show and hook.wait_time == 2.5 and hook.out_dir is None


def test_show_without_a_display_is_one_paragraph(
    pose_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert exit_code(TEST.run, tool_argv(pose_config, tmp_path / "any.pth", "--show")) == 2
    assert "no display" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "name"), [("--out", "metrics.txt"), ("--dump", "predictions.json")]
)
def test_output_suffixes_are_checked(flag: str, name: str, tmp_path: Path, capsys) -> None:
    argv = tool_argv(DIGITS_CONFIG, tmp_path / "any.pth", flag, tmp_path / name)
    assert exit_code(TEST.run, argv) == 2
    assert f"{flag} " in capsys.readouterr().err
