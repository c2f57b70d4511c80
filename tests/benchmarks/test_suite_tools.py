"""tools/compare.py --suite and tools/demo.py on one workload and one seed (the CI subset)."""

from __future__ import annotations

import json
import os

from arsam.tools import compare, demo


def test_compare_suite_quick_writes_tables_plot_and_telemetry(tmp_path, capsys) -> None:
    out = str(tmp_path / "suite")
    argv = ["--suite", "--quick", "--workloads", "digits_mlp_sgd", "--seeds", "0"]
    assert compare.main([*argv, "--workers", "1", "--out", out]) == 0
    printed = capsys.readouterr().out
    assert "The frontier: every method over all cells" in printed and "ARSAM's targets" in printed
    for name in ("report.md", "summary.json", "accuracy_vs_passes.png", "telemetry.json"):
        assert os.path.getsize(os.path.join(out, name)) > 0
    with open(os.path.join(out, "summary.json")) as handle:
        rows = {row["optimizer"]: row for row in json.load(handle)}
    assert set(rows) == {"base", "SAM", "ARSAMPaper", "ARSAM"}
    assert rows["SAM"]["passes_per_step"] == 2.0 and rows["ARSAM"]["passes_per_step"] == 1.10


def test_demo_prints_one_table_and_says_where_everything_is(tmp_path, capsys) -> None:
    out = str(tmp_path / "demo")
    assert demo.main(["--seeds", "0", "--workers", "1", "--out", out]) == 0
    printed = capsys.readouterr().out
    for label in demo.LABELS.values():
        assert f"| {label} |" in printed
    assert f"plot: {out}/accuracy_vs_passes.png" in printed and "logs: " in printed
    assert os.path.getsize(os.path.join(out, "accuracy_vs_passes.png")) > 0


def test_compare_suite_estimate_projects_the_time_and_trains_nothing(tmp_path, capsys) -> None:
    out = tmp_path / "suite"
    argv = ["--suite", "--estimate", "--workloads", "digits_mlp_sgd", "--horizons", "1k", "10k"]
    argv += ["--optimizers", "base,SAM", "--seeds", "0", "1", "--out", str(out)]
    assert compare.main(argv) == 0
    printed = capsys.readouterr().out
    assert "| digits_mlp_sgd | 1k |" in printed and "| digits_mlp_sgd | 10k |" in printed
    minutes = [float(line.split("|")[3]) for line in printed.splitlines() if "digits_mlp" in line]
    assert minutes[1] > 5 * minutes[0] > 0  # ten times the steps, same optimizers and seeds
    assert "projected:" in printed and not out.exists()


def test_compare_suite_refuses_old_names_with_the_new_ones(tmp_path, capsys) -> None:
    for old, new in (("SGD", "'base'"), ("ARSAM-paper", "'ARSAMPaper'")):
        argv = ["--suite", "--optimizers", old, "--seeds", "0", "--out", str(tmp_path)]
        assert compare.main(argv) == 2
        error = capsys.readouterr().err
        assert new in error and "Traceback" not in error and len(error.strip().splitlines()) == 1
