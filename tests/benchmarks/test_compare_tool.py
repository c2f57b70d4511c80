"""tools/compare.py --quick on digits: runs through the training entry, the table and the plots."""

import json
import os

import pytest
from mmengine.config import Config

from arsam.tools.benchmarking.comparison import (
    CompareSettings,
    config_path,
    prepare_config,
    summarize_optimizers,
    total_steps,
)

from .helpers import load_tool

DIGITS_TRAIN_STEPS = 22  # ceil(1347 / 64)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    tool = load_tool("compare")
    argv = [
        "--quick",
        "--optimizers",
        "base",
        "ARSAMPaper",
        "--label-noise",
        "0.2",
        "--out",
        str(out),
    ]
    argv += ["--optimizer-options", '{"ARSAMPaper": {"warmup_steps": 0, "window": 10}}']
    assert tool.main(argv) == 0
    return out


def test_table_json_and_plots(quick_run):
    table = (quick_run / "compare.md").read_text()
    for title in ("Final top-1 (%)", "Best top-1 (%)", "Fwd-bwd passes", "SAM fraction"):
        assert title in table
    assert "| base | 1 |" in table and "| ARSAMPaper | 1 |" in table
    assert "label noise on the training labels: 20%" in table
    for name in ("accuracy_vs_time.png", "arsam_telemetry.png"):
        data = (quick_run / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_runs_report_passes_fraction_and_telemetry(quick_run):
    result = json.loads((quick_run / "compare.json").read_text())
    assert result["seeds"] == [0]
    runs = {r["optimizer"]: r for r in result["runs"]}
    sgd, arsam = runs["base"], runs["ARSAMPaper"]
    assert sgd["steps"] == sgd["grad_evals"] == DIGITS_TRAIN_STEPS and sgd["sam_fraction"] == 0
    assert arsam["steps"] == DIGITS_TRAIN_STEPS
    assert DIGITS_TRAIN_STEPS < arsam["grad_evals"] < 2 * DIGITS_TRAIN_STEPS
    assert arsam["sam_fraction"] == pytest.approx(arsam["grad_evals"] / arsam["steps"] - 1)
    for run in runs.values():
        assert 0 <= run["final"] <= 100 and run["best"] >= run["final"]
        assert run["train_time_s"] > 0 and run["wall_time_s"] > run["train_time_s"]
        assert run["points"][-1]["epoch"] == 1
    assert {"sam_fraction", "quota", "psf_ratio", "grad_evals"} <= set(arsam["telemetry"])
    assert arsam["telemetry"]["quota"] and not sgd["telemetry"]["quota"]
    summary = {row["optimizer"]: row for row in result["summary"]}
    assert summary["base"]["time_vs_base"] == pytest.approx(1.0)
    assert summary["ARSAMPaper"]["final_std"] is None


def test_runs_used_their_configs(quick_run):
    work_dir = quick_run / "runs" / "arsampaper_seed0"
    dumped = next(work_dir.glob("*/vis_data/config.py"))
    cfg = Config.fromfile(str(dumped), import_custom_modules=False)
    assert cfg.train_dataloader.dataset.type == "NoisyLabelDataset"
    assert cfg.train_dataloader.dataset.noise_rate == 0.2
    assert cfg.optim_wrapper.optimizer.type == "ARSAMPaper"
    assert cfg.optim_wrapper.optimizer.warmup_steps == 0
    assert "warmup_epochs" not in cfg.optim_wrapper.optimizer
    assert cfg.train_cfg.max_epochs == 1


def test_peers_get_the_run_length_and_the_sam_config(tmp_path):
    settings = CompareSettings(out=str(tmp_path), quick=True)
    assert config_path(settings.config_prefix, "LookSAM").endswith("digits_sam.py")
    assert config_path(settings.config_prefix, "ARSAM").endswith("digits_arsam.py")
    aesam = prepare_config(settings, "AESAM", seed=0)
    assert total_steps(aesam) == DIGITS_TRAIN_STEPS
    optimizer = aesam.optim_wrapper.optimizer
    assert optimizer.type == "AESAM" and optimizer.total_steps == DIGITS_TRAIN_STEPS
    assert optimizer.base_optimizer.type == "SGD" and optimizer.rho == 0.05
    random_sam = prepare_config(settings, "RandomSAM", seed=2).optim_wrapper.optimizer
    assert random_sam.seed == 2 and random_sam.total_steps == DIGITS_TRAIN_STEPS
    settings.cfg_options = {"train_cfg.max_epochs": 3}
    assert prepare_config(settings, "AESAM", 0).optim_wrapper.optimizer.total_steps == 66
    assert config_path(settings.config_prefix, "base").endswith("digits_sgd.py")
    assert os.path.basename(prepare_config(settings, "base", 1).work_dir) == "base_seed1"


def test_summary_mean_and_sample_std():
    runs = [
        {
            "optimizer": "SAM",
            "final": f,
            "best": f,
            "grad_evals": 4,
            "passes_per_step": 2.0,
            "sam_fraction": 1.0,
            "train_time_s": t,
            "wall_time_s": t + 1,
        }
        for f, t in ((80.0, 2.0), (84.0, 4.0))
    ]
    (row,) = summarize_optimizers(runs)
    assert row["seeds"] == 2 and row["final_mean"] == 82.0
    assert row["final_std"] == pytest.approx(2**1.5)
    assert row["time_vs_sam"] == pytest.approx(1.0) and row["time_vs_base"] is None


def test_unknown_optimizer_is_a_clean_error(tmp_path, capsys):
    tool = load_tool("compare")
    assert tool.main(["--quick", "--optimizers", "Nope", "--out", str(tmp_path)]) == 2
    assert "Nope" in capsys.readouterr().err
