"""tools/reproduce/gpu_check.py: every part at tiny size on the CPU, and the target verdicts.

The script itself runs one part (``sync``) in a child process, which exercises the command
line, the time-limited child and the report; the other parts run in this process, with
ARSAM alone in the training parts, to keep the test short.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time

import pytest
import torch

from arsam.core import TWO_PASS_METHODS
from arsam.tasks.evidence.compared import suite_optimizers
from arsam.tools.benchmarking.gpu_check.parts import PARTS, PartContext, add_ratios, part_status
from arsam.tools.benchmarking.gpu_check.report import sync_target, targets, write_report
from arsam.tools.benchmarking.gpu_check.settings import TINY, TINY_ENV
from tests.benchmarks.helpers import REPO

SCRIPT = REPO / "tools" / "reproduce" / "gpu_check.py"
IN_PROCESS_PARTS = (
    "cost_resnet18",
    "cost_wrn28_10",
    "pose",
    "quantization",
    "accuracy",
    "sharded",
)
# Smaller still than --tiny: fewer timed steps and images; two epochs give two curve points.
TEST_SCALE = dataclasses.replace(
    TINY,
    steps={**TINY.steps, "cost_resnet18": (1, 2), "cost_wrn28_10": (1, 2)},
    images={**TINY.images, "accuracy": 64},
)


def test_script_runs_a_part_in_a_child_process_and_writes_the_report(tmp_path):
    out = tmp_path / "check"
    command = [sys.executable, str(SCRIPT), "--tiny", "--parts", "sync", "--out", str(out)]
    command += ["--train-optimizers", "arsam"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    markdown = (out / "report.md").read_text()
    assert list(report["parts"]) == ["sync"]
    part = report["parts"]["sync"]
    assert part["status"] == "ok", part.get("tail")
    assert f"## {part['title']}" in markdown and "## Targets" in markdown
    assert report["environment"]["torch"] and "torch " in markdown
    assert report["command"].startswith("tools/reproduce/gpu_check.py --tiny")
    sync = part["result"]["rows"]
    assert [row["method"] for row in sync] == list(TWO_PASS_METHODS)
    assert all(row["verdict"] == "n/a (CPU)" for row in sync)


@pytest.fixture(scope="module")
def in_process_report(tmp_path_factory):
    """The parts other than sync, run here at test sizes, in a report as the script writes it."""
    out = tmp_path_factory.mktemp("gpu_check")
    report = {
        "started": "now",
        "command": "test",
        "tiny": True,
        "budget_s": 900.0,
        "environment": {"device": "cpu", "torch": "x", "python": "3"},
        "parts": {},
    }
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models gain nothing from more threads
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(TINY_ENV, "1")  # one thread per child process too
        for name in IN_PROCESS_PARTS:
            folder = out / "parts" / name
            folder.mkdir(parents=True)
            ctx = PartContext(
                name, str(folder), TEST_SCALE, "cpu", time.monotonic() + 240, runs=("arsam",)
            )
            result = PARTS[name][1](ctx)
            status = part_status(0, result)
            report["parts"][name] = {"title": PARTS[name][0], "status": status, "result": result}
    torch.set_num_threads(threads)
    write_report(report, str(out))
    return report, (out / "report.md").read_text()


def test_every_part_runs_at_tiny_size(in_process_report):
    report, markdown = in_process_report
    for name, part in report["parts"].items():
        allowed = ("ok", "not available") if name == "accuracy" else ("ok",)
        assert part["status"] in allowed, (name, part["result"])
        assert f"## {part['title']}" in markdown
    assert set(PARTS) == {"sync", *IN_PROCESS_PARTS}
    arsam_methods = [name for name in TWO_PASS_METHODS if name.startswith("ARSAM")]
    assert "## Targets" in markdown and len(report["targets"]) == 5 * len(arsam_methods) + 1

    for part in ("cost_resnet18", "cost_wrn28_10"):
        modes = report["parts"][part]["result"]["modes"]
        assert [m["precision"] for m in modes] == ["fp32", "bf16", "fp16"]
        for mode in modes:
            assert [row["optimizer"] for row in mode["rows"]] == list(suite_optimizers())
            assert all(row["mean_ms"] > 0 and row["state_bytes"] > 0 for row in mode["rows"])

    for part in ("pose", "quantization"):
        rows = report["parts"][part]["result"]["rows"]
        assert [row["optimizer"] for row in rows] == ["arsam"]
        assert rows[0]["time_s"] > 0 and rows[0]["sam_fraction"] >= 0

    accuracy = report["parts"]["accuracy"]["result"]
    if accuracy.get("available", True):
        rows = accuracy["rows"]
        assert [row["optimizer"] for row in rows] == ["ARSAMPaper"]
        assert rows[0]["curve"] and rows[0]["train_time_s"] > 0


def test_ratios_are_over_the_reference_optimizer():
    rows = [
        {"optimizer": "sgd", "time_s": 2.0, "data_time_s": 1.0, "sam_fraction": 0.0},
        {"optimizer": "arsam", "time_s": 3.0, "data_time_s": 1.0, "sam_fraction": 0.5},
        {"optimizer": "sam", "time_s": None},
    ]
    add_ratios(rows, "sgd")
    assert rows[0]["overhead"] == 1.0 and rows[1]["time_vs_base"] == 1.5
    assert rows[1]["overhead"] == 1.0 and rows[1]["compute_overhead"] == pytest.approx(4 / 3)
    assert "overhead" not in rows[2]


def _cost_mode(precision: str, overhead: float, arsam_buffers: int) -> dict:
    params = 1000
    sgd = {"optimizer": "base", "overhead": 1.0, "sam_fraction": 0.0, "state_bytes": params}
    sgd.update(state_vs_params=1.0, param_bytes=params)
    arsam = {"optimizer": "ARSAM", "overhead": overhead, "sam_fraction": 0.1}
    arsam.update(state_bytes=arsam_buffers + 40, param_bytes=params, state_vs_params=2.0)
    arsam["state_breakdown"] = {"state": arsam_buffers - params, "base_state": params}
    arsam["state_breakdown"]["schedule"] = 40
    return {"precision": precision, "channels_last": False, "rows": [sgd, arsam]}


def test_targets_are_computed_from_the_figures():
    modes = [_cost_mode("fp32", 1.02, 2000), _cost_mode("bf16", 1.05, 2000)]
    sync_rows = [
        {"method": "SAM", "verdict": "yes (30 steps)", "declaration": "declared"},
        {"method": "AESAM", "verdict": "no (step 3: sync)", "declaration": "no declaration"},
        {"method": "ARSAM (x)", "verdict": "not built", "declaration": "-"},
    ]
    report = {
        "parts": {
            "cost_resnet18": {"result": {"batch_size": 128, "modes": modes}},
            "cost_wrn28_10": {"result": {"modes": [_cost_mode("fp32", 1.0, 3000)]}},
            "sync": {"result": {"rows": sync_rows}},
        }
    }
    verdicts = [target["verdict"] for target in targets(report)]
    assert verdicts == ["met", "missed", "not measured", "missed", "met", "missed"]
    sync = sync_target(report)["measured"]
    assert "1 of 3" in sync and "failing: AESAM" in sync and "no declaration: AESAM" in sync
    assert part_status(None, None) == "timed out"
    assert part_status(1, {}) == "failed (exit 1)"
    assert part_status(0, {"rows": [{"error": ["x"]}]}) == "partly failed"
    assert part_status(0, {"available": False}) == "not available"
