"""arsam.tools.analysis_tools.collect_pose: one Markdown table from MMEngine's scalar logs."""

from __future__ import annotations

import json
from pathlib import Path

from arsam.tools.analysis_tools.collect_pose import main, read_records, summarise


def write_log(work_dir: Path, start: str, records: list[dict]) -> None:
    """Write one start's vis_data/scalars.json."""
    path = work_dir / start / "vis_data" / "scalars.json"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def train_record(step: int, time: float, **extra: float) -> dict:
    """A training log line as MMEngine writes it."""
    return dict(
        lr=5e-4, loss=0.01, time=time, data_time=0.01, epoch=1, iter=step, step=step, **extra
    )


def fake_runs(root: Path) -> None:
    """An Adam run and a resumed ARSAM run on COCO."""
    write_log(
        root / "adam",
        "20250101_000000",
        [
            train_record(50, 0.2),
            train_record(100, 0.2),
            {"coco/AP": 0.70, "coco/AR": 0.75, "step": 1},
        ],
    )
    arsam_first = [
        train_record(50, 0.3, sam_fraction=1.0, grad_evals=100, quota=1.0),
        {"coco/AP": 0.72, "coco/AR": 0.76, "step": 1},
    ]
    arsam_resumed = [
        train_record(150, 0.3, sam_fraction=0.5, grad_evals=250, quota=2.0, psf_ratio=0.3),
        {"coco/AP": 0.71, "coco/AR": 0.77, "step": 2},
    ]
    write_log(root / "arsam", "20250101_000000", arsam_first)
    write_log(root / "arsam", "20250102_000000", arsam_resumed)


def test_summary_reads_every_start_of_a_run(tmp_path: Path) -> None:
    fake_runs(tmp_path)
    summary = summarise("arsam", read_records(str(tmp_path / "arsam")))
    assert summary.metrics == {"coco/AP": 0.71, "coco/AR": 0.77}
    assert summary.best == {"coco/AP": 0.72, "coco/AR": 0.77}
    assert summary.iterations == 150 and summary.iter_time == 0.3
    assert summary.telemetry["sam_fraction"] == 0.5 and summary.telemetry["psf_ratio"] == 0.3
    assert summary.evals_per_iter == 1.5


def test_table_with_reference(tmp_path: Path) -> None:
    fake_runs(tmp_path)
    out = tmp_path / "results.md"
    table = main(
        [
            f"adam={tmp_path / 'adam'}",
            str(tmp_path / "arsam"),
            "--reference",
            "adam",
            "--out",
            str(out),
        ]
    )
    assert out.read_text() == table
    header, _, adam, arsam = table.splitlines()
    assert header.split(" | ")[1:3] == ["coco/AP", "coco/AR"] and "time vs adam" in header
    assert adam.startswith("| adam | 0.7000 | 0.7500 |") and adam.endswith("| - | - | 1.000 |")
    assert arsam.startswith("| arsam | 0.7100 | 0.7700 | 0.7200 | 0.3000 | 150 | 0.500 | 1.500 |")
    assert arsam.endswith("| 1.500 |")


def test_mpii_runs_report_pckh(tmp_path: Path) -> None:
    write_log(
        tmp_path / "run", "t", [train_record(10, 0.1), {"PCK": 88.0, "PCK@0.1": 30.0, "step": 1}]
    )
    summary = summarise("run", read_records(str(tmp_path / "run")))
    assert summary.metrics == {"PCK": 88.0, "PCK@0.1": 30.0}
