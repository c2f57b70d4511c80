"""MMPose's and MMPretrain's flags on our tools: train/test drawing and bad cases, get_flops'
--device and -b, browse_dataset's --mode/--not-show/--show-interval, analyze_logs' --backend,
and the classification confusion matrix and result analysis (digits, one short epoch)."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest

from arsam.tools.analysis_tools import (
    analyze_logs,
    analyze_results,
    browse_dataset,
    confusion_matrix,
    get_flops,
)
from arsam.tools.analysis_tools.class_predictions import read_predictions
from arsam.tools.cli.config import enable_pose_badcase, load_config
from tests.tools.helpers import DIGITS_CONFIG, SHORT_DIGITS, exit_code, load_script, tool_argv

TRAIN, TEST = load_script("train.py"), load_script("test.py")
PNG = b"\x89PNG\r\n\x1a\n"
QUIET = ("log_level=WARNING",)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Digits one epoch (6 iterations), validated once with its 2 batches drawn every 2nd."""
    work_dir = tmp_path_factory.mktemp("digits_parity")
    shown = work_dir / "val_shown"
    argv = tool_argv(DIGITS_CONFIG, "--work-dir", work_dir, "--show-dir", shown, "--interval", 2)
    TRAIN.run([*argv, "train_cfg.max_epochs=1", *SHORT_DIGITS])
    return dict(work_dir=work_dir, checkpoint=work_dir / "epoch_1.pth", shown=shown)


@pytest.fixture(scope="module")
def digits_dump(digits_run: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The digits test predictions pickled by tools/test.py --dump."""
    folder = tmp_path_factory.mktemp("digits_dump")
    dump = folder / "predictions.pkl"
    argv = tool_argv(DIGITS_CONFIG, digits_run["checkpoint"], "--dump", dump, options=QUIET)
    TEST.run([*argv[:2], "--work-dir", str(folder), *argv[2:]])
    return dump


def test_train_show_dir_draws_every_interval_th_validation_batch(digits_run: dict) -> None:
    drawn = sorted(p.name for p in digits_run["shown"].glob("*.png"))
    assert drawn == ["val_00000_iter6.png"]  # batches 0 and 1 of 256; --interval 2 keeps 0
    assert (digits_run["shown"] / drawn[0]).read_bytes().startswith(PNG)


def test_train_show_with_no_validate_is_one_paragraph(tmp_path: Path, capsys) -> None:
    argv = tool_argv(DIGITS_CONFIG, "--no-validate", "--show-dir", tmp_path / "shown")
    assert exit_code(TRAIN.run, argv) == 2
    assert "--no-validate turns validation off" in capsys.readouterr().err


def test_train_show_and_wait_time_reach_the_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", ":0")
    args = TRAIN.parse_args([str(DIGITS_CONFIG), "--show", "--wait-time", "3", "--interval", "4"])
    assert args.show and args.wait_time == 3.0 and args.interval == 4


def test_test_show_dir_draws_every_interval_th_classification_sample(
    digits_run: dict, tmp_path: Path
) -> None:
    shown = tmp_path / "shown"
    flags = ["--show-dir", shown, "--interval", 50, "--work-dir", tmp_path]
    TEST.run(tool_argv(DIGITS_CONFIG, digits_run["checkpoint"], *flags, options=QUIET))
    drawn = sorted(p.name for p in shown.glob("*.png"))
    assert drawn == [f"{i:05d}.png" for i in range(0, 450, 50)]


def test_test_interval_must_be_positive(digits_run: dict, tmp_path: Path, capsys) -> None:
    flags = ["--show-dir", tmp_path / "shown", "--interval", 0]
    assert exit_code(TEST.run, tool_argv(DIGITS_CONFIG, digits_run["checkpoint"], *flags)) == 2
    assert "--interval must be 1 or more" in capsys.readouterr().err


def test_test_badcase_draws_the_worst_classification_predictions(
    digits_run: dict, tmp_path: Path
) -> None:
    flags = ["--badcase", "--badcase-topk", 5, "--work-dir", tmp_path]
    TEST.run(tool_argv(DIGITS_CONFIG, digits_run["checkpoint"], *flags, options=QUIET))
    cases = json.loads((tmp_path / "badcase" / "bad_cases.json").read_text())
    losses = [case["loss"] for case in cases]
    assert len(cases) == 5 and losses == sorted(losses, reverse=True)
    assert all(
        (tmp_path / "badcase" / case["image"]).read_bytes().startswith(PNG) for case in cases
    )


def test_test_badcase_turns_on_the_pose_hook(pose_config: Path) -> None:
    cfg = load_config(str(pose_config))
    enable_pose_badcase(cfg, show=False, wait_time=1.0, interval=3)
    hook = cfg.default_hooks.badcase
    assert hook.enable and hook.interval == 3 and hook.metric.type == "KeypointMSELoss"


def test_test_parses_mmpose_badcase_and_interval() -> None:
    args = TEST.parse_args(["config.py", "ckpt.pth", "--badcase", "--interval", "5"])
    assert args.badcase and args.interval == 5


def test_get_flops_batch_size_and_device(capsys: pytest.CaptureFixture) -> None:
    one = get_flops.run([str(DIGITS_CONFIG), "--device", "cpu"])
    four = get_flops.run([str(DIGITS_CONFIG), "--device", "cpu", "-b", "4"])
    assert four["flops"] == 4 * one["flops"] and four["params"] == one["params"]
    assert "Input shape: (4, 1, 16, 16)" in capsys.readouterr().out


def test_get_flops_refuses_an_absent_device(capsys: pytest.CaptureFixture) -> None:
    assert exit_code(get_flops.run, [str(DIGITS_CONFIG), "--device", "cuda:63"]) == 2
    assert "--device 'cuda:63'" in capsys.readouterr().err


def test_browse_dataset_original_mode_skips_the_transforms(tmp_path: Path) -> None:
    argv = [str(DIGITS_CONFIG), "--output-dir", str(tmp_path), "--max-item-per-dataset", "4"]
    (grid,) = browse_dataset.run([*argv, "--mode", "original", "--not-show"])
    assert grid == str(tmp_path / "train_original_samples.png")
    section = {"pipeline": [dict(type="RandomPadCrop", size=16), dict(type="PackClsInputs")]}
    assert browse_dataset.original_pipeline(section["pipeline"]) == [dict(type="PackClsInputs")]


def test_browse_dataset_show_interval_without_not_show_is_one_paragraph(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = [str(DIGITS_CONFIG), "--output-dir", str(tmp_path), "--show-interval", "2"]
    assert exit_code(browse_dataset.run, argv) == 2
    assert "shows no windows" in capsys.readouterr().err


def test_analyze_logs_backend(digits_run: dict, tmp_path: Path, capsys) -> None:
    out = tmp_path / "curve.pdf"
    argv = ["plot_curve", str(digits_run["work_dir"]), "--backend", "pdf", "--out", str(out)]
    analyze_logs.run(argv)
    assert out.read_bytes().startswith(b"%PDF")
    argv = ["plot_curve", str(digits_run["work_dir"]), "--backend", "no_such_backend"]
    assert exit_code(analyze_logs.run, argv) == 2
    assert "--backend 'no_such_backend'" in capsys.readouterr().err
    analyze_logs.plt.switch_backend("Agg")


def test_confusion_matrix_from_a_dump(digits_dump: Path, tmp_path: Path) -> None:
    figure, out = tmp_path / "matrix.png", tmp_path / "matrix.json"
    argv = [str(DIGITS_CONFIG), str(digits_dump), "--show-path", str(figure), "--out", str(out)]
    matrix = confusion_matrix.run([*argv, "--include-values"])
    predictions = read_predictions(str(digits_dump))
    right = sum(p["pred_label"] == p["gt_label"] for p in predictions)
    assert matrix.shape == (10, 10) and int(matrix.sum()) == 450 and int(matrix.trace()) == right
    assert json.loads(out.read_text())["matrix"] == matrix.tolist()
    assert figure.read_bytes().startswith(PNG)


def test_confusion_matrix_from_a_checkpoint(digits_run: dict, digits_dump: Path, tmp_path) -> None:
    figure = tmp_path / "matrix.png"
    argv = [str(DIGITS_CONFIG), str(digits_run["checkpoint"]), "--show-path", str(figure)]
    from_checkpoint = confusion_matrix.run([*argv, "--cfg-options", *QUIET])
    from_dump = confusion_matrix.run(
        [str(DIGITS_CONFIG), str(digits_dump), "--show-path", str(figure)]
    )
    assert from_checkpoint.tolist() == from_dump.tolist()


def test_confusion_matrix_refuses_a_file_without_predictions(tmp_path: Path, capsys) -> None:
    dump = tmp_path / "metrics.pkl"
    dump.write_bytes(pickle.dumps({"accuracy/top1": 90.0}, protocol=2))  # as mmengine.dump
    assert exit_code(confusion_matrix.run, [str(DIGITS_CONFIG), str(dump)]) == 2
    assert "holds no classification predictions" in capsys.readouterr().err


class _Payload:
    """Unpickling this creates ``marker``: what a hostile predictions file would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_predictions_file_that_would_run_code_is_refused(tmp_path: Path, capsys) -> None:
    dump, marker = tmp_path / "hostile.pkl", tmp_path / "ran"
    dump.write_bytes(pickle.dumps([_Payload(marker)], protocol=2))
    assert exit_code(confusion_matrix.run, [str(DIGITS_CONFIG), str(dump)]) == 2
    assert not marker.exists()
    assert "reads safely" in capsys.readouterr().err


def test_analyze_results_draws_the_topk_worst(digits_dump: Path, tmp_path: Path) -> None:
    argv = [str(DIGITS_CONFIG), str(digits_dump), "--out-dir", str(tmp_path), "--topk", "3"]
    cases = analyze_results.run(argv)
    assert [c["rank"] for c in cases] == [1, 2, 3]
    assert sorted(p.name for p in tmp_path.glob("*.png")) == sorted(c["image"] for c in cases)


def test_test_badcase_on_pose_writes_mmpose_bad_cases(pose_config: Path, tmp_path: Path) -> None:
    TRAIN.run(tool_argv(pose_config, "--work-dir", tmp_path / "train", "--no-validate"))
    checkpoint = tmp_path / "train" / "epoch_1.pth"
    TEST.run(tool_argv(pose_config, checkpoint, "--badcase", "--work-dir", tmp_path / "test"))
    (folder,) = (tmp_path / "test").glob("*/badcase")
    assert list(folder.glob("*KeypointMSELoss*.jpg")) and (folder / "results.json").is_file()
