"""Small defects of the tools: prediction size, curve axes, run names, backends, legend."""

from __future__ import annotations

import argparse
import json
import pickle
from pathlib import Path
from typing import Any

import pytest
import torch
from mmengine.config import DictAction

import arsam.tasks.classification  # noqa: F401  (registers the backbones)
from arsam.tasks.classification.models.image_classifier import ImageClassifier
from arsam.tools.analysis_tools import analyze_logs
from arsam.tools.benchmarking.suite_report import MAX_PASSES, accuracy_against_passes_figure
from arsam.tools.cli import runs
from arsam.tools.cli.config import load_config
from arsam.tools.cli.registry_checks import check_registry_arguments

DIGITS = Path(__file__).resolve().parents[2] / "configs" / "classification" / "digits_arsam.py"


def test_each_prediction_owns_its_scores() -> None:
    backbone = dict(type="CifarResNet", num_classes=10, base_width=4, blocks=(1, 1, 1, 1))
    model = ImageClassifier(backbone=backbone).eval()
    with torch.no_grad():
        predictions = model(torch.randn(256, 3, 8, 8), torch.zeros(256).long(), mode="predict")
    assert all(p["scores"].untyped_storage().nbytes() == 10 * 4 for p in predictions)
    assert len(pickle.dumps(predictions)) < 1000 * len(predictions)


@pytest.fixture()
def work_dir(tmp_path: Path) -> Path:
    """A work dir whose log holds a loss, a learning rate and a validation accuracy in %."""
    logs = tmp_path / "digits" / "20250101_000000" / "vis_data"
    logs.mkdir(parents=True)
    records = [dict(lr=0.05, loss=2.3 / i, time=0.1, epoch=1, iter=i, step=i) for i in (1, 2, 3)]
    records.append({"accuracy/top1": 71.5, "step": 1})
    (logs / "scalars.json").write_text("".join(json.dumps(r) + "\n" for r in records))
    return tmp_path / "digits"


def plotted_axes(
    work_dir: Path, keys: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> list[Any]:
    """The axes of the figure analyze_logs plot_curve draws for ``keys`` of ``work_dir``."""
    figures: list[Any] = []
    monkeypatch.setattr(analyze_logs, "save_figure", lambda figure, out: figures.append(figure))
    argv = ["plot_curve", str(work_dir), "--keys", *keys, "--out", str(tmp_path / "c.png")]
    analyze_logs.run(argv)
    return figures[0].axes


def test_plot_curve_gives_loss_and_accuracy_their_own_labelled_axes(
    work_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    axes = plotted_axes(work_dir, ["loss", "accuracy/top1"], tmp_path, monkeypatch)
    assert [axis.get_ylabel() for axis in axes] == ["loss", "accuracy/top1 (%)"]
    assert axes[-1].get_xlabel() == "iteration"
    assert [len(axis.lines) for axis in axes] == [1, 1]


def test_plot_curve_keeps_keys_of_one_unit_on_one_axis(
    work_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    axes = plotted_axes(work_dir, ["loss", "lr"], tmp_path, monkeypatch)
    assert [axis.get_ylabel() for axis in axes] == ["loss", "lr (learning rate)"]
    axes = plotted_axes(work_dir, ["loss", "loss"], tmp_path, monkeypatch)
    assert len(axes) == 1 and len(axes[0].lines) == 2
    assert analyze_logs.unit_of("accuracy/top5") == analyze_logs.unit_of("accuracy/top1") == "%"


def test_experiment_names_carry_one_timestamp_and_stay_unique(tmp_path: Path) -> None:
    first = runs.build_runner(load_config(str(DIGITS), work_dir=str(tmp_path / "a")))
    second = runs.build_runner(load_config(str(DIGITS), work_dir=str(tmp_path / "b")))
    for runner in (first, second):
        assert runner.experiment_name.count(runner.timestamp) == 1
        assert runner.experiment_name.startswith("digits_arsam_")
    assert first.experiment_name != second.experiment_name
    assert runs.experiment_name(str(DIGITS), 3) == "digits_arsam_run3"
    assert runs.experiment_name(None, 0) == "run"


def cfg_options(*items: str) -> dict[str, Any]:
    """``--cfg-options`` as tools/train.py parses them."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--cfg-options", nargs="+", action=DictAction)
    return parser.parse_args(["--cfg-options", *items]).cfg_options


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        (
            "visualizer.vis_backends=[dict(type='TensorboardVisBackend')]",
            [{"type": "TensorboardVisBackend"}],
        ),
        (
            "visualizer.vis_backends=[dict(type='LocalVisBackend'),dict(type='TensorboardVisBackend')]",
            [{"type": "LocalVisBackend"}, {"type": "TensorboardVisBackend"}],
        ),
        (
            "visualizer.vis_backends.0.type=TensorboardVisBackend",
            [{"type": "TensorboardVisBackend"}],
        ),
    ],
)
def test_visualizer_backend_is_set_from_the_command_line(option: str, expected: list) -> None:
    cfg = load_config(str(DIGITS), cfg_options=cfg_options(option))
    assert cfg.visualizer.vis_backends == expected
    check_registry_arguments(cfg)


def test_the_tensorboard_backend_writes_events(tmp_path: Path) -> None:
    option = "visualizer.vis_backends=[dict(type='TensorboardVisBackend')]"
    cfg = load_config(str(DIGITS), work_dir=str(tmp_path), cfg_options=cfg_options(option))
    cfg.visualizer.name = "tensorboard_backend_test"
    runner = runs.build_runner(cfg)
    runner.visualizer.add_scalars({"loss": 1.0}, step=1)
    runner.visualizer.close()
    assert list(tmp_path.rglob("events.out.tfevents.*"))


def test_the_passes_target_line_is_in_the_legend() -> None:
    records = [
        dict(
            workload="digits",
            horizon="short",
            steps=10,
            optimizer=name,
            seed=0,
            accuracy=0.9,
            passes_per_step=passes,
            sam_fraction=passes - 1,
            wall_time_s=1.0,
        )
        for name, passes in (("SGD", 1.0), ("SAM", 2.0), ("ARSAM", 1.10))
    ]
    figure = accuracy_against_passes_figure(records)
    labels = [text.get_text() for legend in figure.legends for text in legend.get_texts()]
    assert f"target: {MAX_PASSES} passes per step" in labels
