"""tools/analysis_tools/: each tool on a digits work dir (2 short epochs) or config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arsam.tools.analysis_tools import (
    analyze_logs,
    browse_dataset,
    get_flops,
    plot_telemetry,
    print_config,
)
from arsam.tools.analysis_tools.work_dir_logs import series
from tests.tools.helpers import DIGITS_CONFIG, SHORT_DIGITS, exit_code, load_script, tool_argv

PNG = b"\x89PNG\r\n\x1a\n"
TOOLS = [analyze_logs, plot_telemetry, get_flops, print_config, browse_dataset]


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Digits with ARSAM, 2 epochs of 6 logged iterations, validated after each."""
    path = tmp_path_factory.mktemp("digits_logs")
    argv = tool_argv(DIGITS_CONFIG, "--work-dir", path)
    load_script("train.py").run([*argv, "train_cfg.max_epochs=2", *SHORT_DIGITS])
    return path


@pytest.fixture()
def sgd_work_dir(tmp_path: Path) -> Path:
    """A work dir whose log holds what a plain SGD run logs (no ARSAM telemetry)."""
    logs = tmp_path / "sgd" / "20250101_000000" / "vis_data"
    logs.mkdir(parents=True)
    records = [dict(lr=0.05, loss=2.3, time=0.1, epoch=1, iter=i, step=i) for i in (1, 2, 3)]
    (logs / "scalars.json").write_text("".join(json.dumps(r) + "\n" for r in records))
    return tmp_path / "sgd"


@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t.__name__.rsplit(".", 1)[-1])
def test_every_tool_has_help(tool, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stop:
        tool.parse_args(["--help"])
    assert stop.value.code == 0 and "usage:" in capsys.readouterr().out


def test_validation_values_sit_at_the_last_training_iteration() -> None:
    records = [
        dict(loss=2.0, iter=5, step=5),
        dict(loss=1.5, iter=6, step=6),
        {"acc": 50, "step": 1},
    ]
    assert series(records, "loss") == ([5.0, 6.0], [2.0, 1.5])
    assert series(records, "acc") == ([6.0], [50.0])


def test_analyze_logs_plots_keys_of_several_logs(work_dir: Path, tmp_path: Path) -> None:
    scalars = next(work_dir.glob("*/vis_data/scalars.json"))
    out = tmp_path / "curves.png"
    argv = ["plot_curve", str(work_dir), str(scalars), "--keys", "loss", "accuracy/top1"]
    assert analyze_logs.run([*argv, "--out", str(out), "--title", "digits"]) == str(out)
    assert out.read_bytes().startswith(PNG)


def test_analyze_logs_names_the_logged_keys(work_dir: Path, tmp_path: Path, capsys) -> None:
    argv = ["plot_curve", str(work_dir), "--keys", "losss", "--out", str(tmp_path / "c.png")]
    assert exit_code(analyze_logs.run, argv) == 2
    error = capsys.readouterr().err
    assert "logged no 'losss'" in error and "sam_fraction" in error
    assert exit_code(analyze_logs.run, ["plot_curve", str(tmp_path / "none")]) == 2
    assert "neither a work dir nor a log file" in capsys.readouterr().err


def test_analyze_logs_averages_train_time(work_dir: Path, capsys) -> None:
    (summary,) = analyze_logs.run(["cal_train_time", str(work_dir)])
    assert summary["mean_s"] > 0 and {summary["slowest"], summary["fastest"]} <= {1, 2}
    assert "average iter time" in capsys.readouterr().out


def test_plot_telemetry_writes_one_figure_into_the_work_dir(work_dir: Path) -> None:
    path = Path(plot_telemetry.run([str(work_dir)]))
    assert path == work_dir / "arsam_telemetry.png" and path.read_bytes().startswith(PNG)
    quota = plot_telemetry.telemetry(str(work_dir))["quota"]
    assert len(quota[0]) == 12 and all(q >= 0 for q in quota[1])


def test_plot_telemetry_without_arsam_is_one_paragraph(sgd_work_dir: Path, capsys) -> None:
    assert exit_code(plot_telemetry.run, [str(sgd_work_dir)]) == 2
    error = capsys.readouterr().err
    assert "holds no ARSAM telemetry" in error and "analyze_logs.py plot_curve" in error


def test_get_flops_of_the_digits_model(capsys: pytest.CaptureFixture) -> None:
    result = get_flops.run([str(DIGITS_CONFIG)])
    assert result["flops"] > 0 and result["params"] == 308_538
    out = capsys.readouterr().out
    assert "Input shape: (1, 1, 16, 16)" in out and "Params: 0.309M" in out
    assert get_flops.run([str(DIGITS_CONFIG), "--input-shape", "1", "32", "32"])["flops"] > (
        3.9 * result["flops"]
    )
    assert exit_code(get_flops.run, [str(DIGITS_CONFIG), "--input-shape", "1", "2", "3", "4"]) == 2


def test_print_config_shows_the_resolved_config(capsys: pytest.CaptureFixture) -> None:
    text = print_config.run(
        [str(DIGITS_CONFIG), "--cfg-options", "optim_wrapper.optimizer.rho=0.123"]
    )
    assert "rho=0.123" in text and "type='ARSAM'" in text and "CifarResNet" in text
    assert capsys.readouterr().out.startswith("Config:\n")
    assert exit_code(print_config.run, ["configs/nope.py"]) == 2


def test_browse_dataset_saves_a_digits_grid(tmp_path: Path) -> None:
    argv = [str(DIGITS_CONFIG), "--output-dir", str(tmp_path), "--max-item-per-dataset", "6"]
    (grid,) = browse_dataset.run(argv)
    assert grid == str(tmp_path / "train_samples.png")
    assert Path(grid).read_bytes().startswith(PNG)


def test_browse_dataset_draws_pose_samples(pose_config: Path, tmp_path: Path) -> None:
    argv = [str(pose_config), "--output-dir", str(tmp_path), "--max-item-per-dataset", "2"]
    written = browse_dataset.run(argv)
    assert len(written) == 2 and all(Path(p).stat().st_size > 0 for p in written)
