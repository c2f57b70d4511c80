"""Training through tools/train.py and MMEngine's Runner on generated COCO data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from arsam.tools.analysis_tools.collect_pose import read_records, summarise
from tests.pose.helpers import (
    DEMO_CONFIG,
    REPO,
    SIMPLEBASELINE,
    SMALL_ARSAM,
    SMALL_ARSAM_PAPER,
    SMALL_SAM,
    assert_same,
    checkpoint,
    logged_records,
    reduced_simplebaseline,
    synthetic_overrides,
    train,
    write_config,
)

WRAPPERS = {"ARSAMPaper": SMALL_ARSAM_PAPER, "SAM": SMALL_SAM}


@pytest.fixture(scope="module", params=sorted(WRAPPERS))
def runs(request: pytest.FixtureRequest, synthetic_coco: Path, tmp_path_factory) -> dict:
    """One optimizer trained 3 epochs straight, and 2 epochs then resumed for the third."""
    kind = request.param
    tmp = tmp_path_factory.mktemp(f"pose_{kind}")
    entries = synthetic_overrides(str(synthetic_coco), epochs=3, val_interval=3)
    config = write_config(tmp / "config.py", DEMO_CONFIG, optim_wrapper=WRAPPERS[kind], **entries)
    straight, interrupted = tmp / "straight", tmp / "interrupted"
    train(config, straight)
    train(config, interrupted, "train_cfg.max_epochs=2")
    train(config, interrupted, resume=interrupted / "epoch_2.pth")
    return dict(kind=kind, straight=straight, interrupted=interrupted)


def test_trains_and_validates_with_coco_metric(runs: dict) -> None:
    records = logged_records(runs["straight"])
    train_records = [r for r in records if "loss" in r]
    assert train_records and all(torch.isfinite(torch.tensor(r["loss"])) for r in train_records)
    assert {"sam_fraction", "grad_evals"} <= set(train_records[-1])
    val = [r for r in records if "coco/AP" in r]
    assert len(val) == 1 and 0.0 <= val[0]["coco/AP"] <= 1.0 and 0.0 <= val[0]["coco/AR"] <= 1.0


def test_checkpoint_holds_the_optimizer_state(runs: dict) -> None:
    state = checkpoint(runs["interrupted"] / "epoch_2.pth")["optimizer"]
    assert state["kind"] == runs["kind"]
    assert state["counters"]["steps"] > 0 and state["base_optimizer"]["state"]
    if runs["kind"] == "ARSAMPaper":
        # The optimizer's completed steps are the schedule's step count.
        settings = state["rule"]["settings"]
        position = state["counters"]["steps"] - settings["warmup_steps"]
        assert position > 0 and position % settings["window"] != 0  # resumed mid-window
        assert 0 < state["counters"]["sam_steps"] < state["counters"]["steps"]


def test_resume_continues_like_an_uninterrupted_run(runs: dict) -> None:
    straight = checkpoint(runs["straight"] / "epoch_3.pth")
    resumed = checkpoint(runs["interrupted"] / "epoch_3.pth")
    assert resumed["meta"]["epoch"] == straight["meta"]["epoch"] == 3
    assert resumed["meta"]["iter"] == straight["meta"]["iter"]
    assert resumed["optimizer"]["counters"] == straight["optimizer"]["counters"]
    assert_same(resumed["optimizer"], straight["optimizer"], "optimizer")
    assert_same(resumed["state_dict"], straight["state_dict"], "state_dict")
    logged_steps = {
        name: [r["step"] for r in logged_records(runs[name]) if "loss" in r]
        for name in ("straight", "interrupted")
    }
    assert logged_steps["interrupted"] == logged_steps["straight"]


def test_simplebaseline_trains_with_arsam_by_changing_only_the_optimizer(
    synthetic_coco: Path, tmp_path: Path
) -> None:
    entries = synthetic_overrides(str(synthetic_coco), epochs=1, val_interval=1)
    imports = dict(
        imports=["arsam.core.mmengine_adapter", "arsam.tasks.pose"], allow_failed_imports=False
    )
    adam = write_config(
        tmp_path / "simplebaseline_adam.py",
        SIMPLEBASELINE,
        custom_imports=imports,
        **reduced_simplebaseline(),
        **entries,
    )
    arsam = write_config(tmp_path / "simplebaseline_arsam.py", adam, optim_wrapper=SMALL_ARSAM)
    train(arsam, tmp_path / "work")
    state = checkpoint(tmp_path / "work" / "epoch_1.pth")
    assert state["optimizer"]["kind"] == "ARSAM"
    assert state["optimizer"]["counters"]["grad_evals"] > state["optimizer"]["counters"]["steps"]
    assert any("coco/AP" in r for r in logged_records(tmp_path / "work"))


def test_collector_reads_a_resumed_run(runs: dict) -> None:
    summary = summarise(runs["kind"], read_records(str(runs["interrupted"])))
    assert set(summary.metrics) == {"coco/AP", "coco/AR"} and summary.iterations > 0
    fraction = summary.telemetry["sam_fraction"]
    if runs["kind"] == "SAM":
        assert fraction == 1.0 and summary.evals_per_iter == 2.0
    else:
        assert 0.0 < fraction < 1.0 and 1.0 < summary.evals_per_iter < 2.0


def test_reproduce_script_runs_and_tabulates(synthetic_coco: Path, tmp_path: Path) -> None:
    entries = synthetic_overrides(str(synthetic_coco), epochs=1, val_interval=1)
    adam = dict(_delete_=True, type="OptimWrapper", optimizer=dict(type="Adam", lr=2e-3))
    write_config(tmp_path / "tiny_adam.py", DEMO_CONFIG, optim_wrapper=adam, **entries)
    write_config(tmp_path / "tiny_arsam.py", DEMO_CONFIG, optim_wrapper=SMALL_ARSAM, **entries)
    paper = SMALL_ARSAM_PAPER
    write_config(tmp_path / "tiny_arsam_paper.py", DEMO_CONFIG, optim_wrapper=paper, **entries)
    env = dict(
        os.environ,
        FAMILY="tiny",
        CONFIG_DIR=str(tmp_path),
        OPTIMIZERS="arsam_paper arsam",
        WORK_ROOT=str(tmp_path / "work"),
        PYTHON=sys.executable,
        OMP_NUM_THREADS="1",
        PYTHONWARNINGS="ignore",
    )
    script = REPO / "tools" / "reproduce" / "pose.sh"
    result = subprocess.run(
        ["bash", str(script)], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    table = (tmp_path / "work" / "results.md").read_text().splitlines()
    assert "coco/AP" in table[0] and "SAM fraction" in table[0] and "wall h" in table[0]
    assert len(table) == 4 and table[2].startswith("| arsam_paper |")
    assert table[3].startswith("| arsam |")
