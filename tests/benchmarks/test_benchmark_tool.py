"""tools/benchmark.py on a tiny model: the table, the JSON and sane per-optimizer numbers."""

import contextlib
import io
import json

import pytest
import torch

from arsam.core import ARSAMPaper
from arsam.tasks.evidence.progress import Progress
from arsam.tools.benchmarking.cost import (
    BenchmarkSettings,
    declared_reads,
    run_benchmark,
    var_blocks_for,
)

from .helpers import load_tool

TINY = [
    "--model-kwargs",
    '{"base_width": 4, "blocks": [1, 1, 1, 1]}',
    "--input-shape",
    "3",
    "8",
    "8",
]
ROW_KEYS = {
    "optimizer",
    "median_ms",
    "mean_ms",
    "passes_per_step",
    "sam_fraction",
    "time_vs_base",
    "time_vs_sam",
    "overhead",
    "state_bytes",
    "state_vs_params",
    "peak_step_bytes",
    "sync_free",
}


@pytest.fixture(scope="module")
def tiny_run_with_progress(tmp_path_factory):
    out = tmp_path_factory.mktemp("benchmark")
    tool = load_tool("benchmark")
    argv = [*TINY, "--batch-size", "4", "--steps", "12", "--warmup", "2"]
    argv += ["--optimizers", "base,SAM,ARSAM", "--arsam-window", "10", "--out", str(out)]
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        assert tool.main(argv) == 0
    return out, stderr.getvalue()


@pytest.fixture(scope="module")
def tiny_run(tiny_run_with_progress):
    return tiny_run_with_progress[0]


def test_reports_progress_with_eta_on_stderr(tiny_run_with_progress):
    lines = tiny_run_with_progress[1].splitlines()
    assert lines[0].startswith("benchmark: base, SAM, ARSAM on CifarResNet")
    steps = [line for line in lines if "ETA" in line]
    assert steps and all("elapsed" in line for line in steps)
    assert "timed step 14/14" in steps[-1] and steps[-1].endswith("ETA 0:00:00")


def test_writes_markdown_and_json(tiny_run):
    table = (tiny_run / "benchmark.md").read_text()
    for title in ("Median ms/step", "Passes/step", "Overhead t/((1+f) t_base)", "State (MiB)"):
        assert title in table
    assert [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ")][
        1:
    ] == ["base", "SAM", "ARSAM"]
    result = json.loads((tiny_run / "benchmark.json").read_text())
    assert result["settings"]["steps"] == 12 and result["parameters"] > 0
    assert all(set(row) >= ROW_KEYS for row in result["rows"])


def test_numbers_are_sane(tiny_run):
    rows = {
        r["optimizer"]: r for r in json.loads((tiny_run / "benchmark.json").read_text())["rows"]
    }
    sgd, sam, arsam = rows["base"], rows["SAM"], rows["ARSAM"]
    assert sgd["passes_per_step"] == 1 and sgd["sam_fraction"] == 0
    assert sam["passes_per_step"] == 2 and sam["sam_fraction"] == 1
    assert 1 <= arsam["passes_per_step"] <= 2
    assert arsam["sam_fraction"] == pytest.approx(arsam["passes_per_step"] - 1)
    assert sgd["time_vs_base"] == pytest.approx(1.0) and sam["time_vs_sam"] == pytest.approx(1.0)
    assert sgd["overhead"] == pytest.approx(1.0)
    for row in rows.values():
        assert row["median_ms"] > 0 and row["mean_ms"] > 0 and row["overhead"] > 0
        assert row["peak_step_bytes"] is None and row["sync_free"] == "not checked"
    # Momentum for all three; ARSAM adds PSF (one more parameter-sized buffer).
    assert sgd["state_vs_params"] == pytest.approx(1.0)
    assert sam["state_vs_params"] == pytest.approx(1.0)
    assert arsam["state_vs_params"] == pytest.approx(2.0, abs=0.01)
    assert arsam["state_breakdown"]["schedule"] > 0


def test_progress_report_speaks_every_tenth_of_the_work():
    lines = []
    report = Progress([1.0] * 200)
    for done in range(1, 201):
        status = report.advance()
        if report.due(interval_s=1e9):
            lines.append(f"step {done}/200: {status}")
    assert len(lines) == 10 and lines[0].startswith("step 20/200: [20/200] elapsed 0:00:00, ETA ")
    assert lines[-1].startswith("step 200/200") and lines[-1].endswith("ETA 0:00:00")


def test_sync_check_is_not_applicable_on_cpu():
    settings = BenchmarkSettings(
        model_kwargs={"base_width": 4, "blocks": (1, 1, 1, 1)},
        input_shape=(3, 8, 8),
        batch_size=2,
        steps=2,
        warmup=0,
        optimizers=["ARSAM", "LookSAM"],
        sync_check_steps=3,
        num_batches=2,
    )
    rows = run_benchmark(settings)["rows"]
    assert [r["sync_free"] for r in rows] == ["n/a (CPU)", "n/a (CPU)"]


def test_arsam_reads_the_device_only_on_window_boundaries(monkeypatch):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    optimizer = ARSAMPaper(model.parameters(), torch.optim.SGD, warmup_steps=3, window=10, lr=0.1)
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    reads = []
    for method in ("item", "tolist"):
        original = getattr(torch.Tensor, method)
        monkeypatch.setattr(
            torch.Tensor, method, lambda t, _original=original: reads.append(1) or _original(t)
        )

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return loss

    flagged, read = [], []
    for _ in range(40):
        flagged.append(bool(declared_reads(optimizer)))
        before = len(reads)
        optimizer.step(closure)
        read.append(len(reads) > before)
    assert any(read)
    assert all(f for f, r in zip(flagged, read) if r)
    assert sum(flagged) == 4  # one per window, from the end of warm-up: steps 3, 13, 23, 33


def test_var_blocks_fit_the_window():
    assert var_blocks_for(10) == 5 and var_blocks_for(8) == 4 and var_blocks_for(6) == 3
    assert var_blocks_for(4) == 2 and var_blocks_for(7) == 1


def test_unknown_optimizer_is_a_clean_error(tmp_path, capsys):
    tool = load_tool("benchmark")
    assert tool.main([*TINY, "--optimizers", "SGD,Nope", "--out", str(tmp_path)]) == 2
    assert "Nope" in capsys.readouterr().err
