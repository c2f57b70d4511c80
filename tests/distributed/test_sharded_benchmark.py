"""tools/benchmark.py --sharded: the collectives per step under FSDP2, FSDP's and the optimizer's.

Two gloo CPU processes, a tiny CifarResNet, two measured steps. A plain SGD step issues
only FSDP's all-gathers and reduce-scatters; a SAM step runs forward and backward twice
(twice FSDP's collectives) and adds one all-reduce of one float32 norm.
"""

from __future__ import annotations

import json

import pytest

from tests.benchmarks.helpers import load_tool

TINY = [
    "--model-kwargs",
    '{"base_width": 4, "blocks": [1, 1, 1, 1]}',
    "--input-shape",
    "3",
    "8",
    "8",
    "--batch-size",
    "4",
    "--steps",
    "2",
    "--warmup",
    "1",
]


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """The sharded mode's rows for base, SAM and ARSAM, by optimizer."""
    out = tmp_path_factory.mktemp("sharded_benchmark")
    argv = ["--sharded", "2", "--optimizers", "base,SAM,ARSAM", *TINY, "--out", str(out)]
    # half the steps SAM steps: the three steps measured include SAM and reuse steps
    argv += ["--optimizer-options", '{"ARSAM": {"horizon_options": {"budget": 0.5}}}']
    assert load_tool("benchmark").main(argv) == 0
    result = json.loads((out / "sharded_collectives.json").read_text())
    assert result["world_size"] == 2
    assert (out / "sharded_collectives.md").read_text().startswith("# Collectives per step")
    return {row["optimizer"]: row for row in result["rows"]}


def test_the_base_step_issues_fsdp_collectives_only(rows) -> None:
    assert rows["base"]["fsdp_calls"] > 0 and rows["base"]["fsdp_mib"] > 0
    assert rows["base"]["optimizer_calls"] == 0 and rows["base"]["optimizer_bytes"] == 0


def test_a_sam_step_doubles_fsdp_and_adds_one_scalar_all_reduce(rows) -> None:
    assert rows["SAM"]["fsdp_calls"] == 2 * rows["base"]["fsdp_calls"]
    assert rows["SAM"]["fsdp_mib"] == pytest.approx(2 * rows["base"]["fsdp_mib"])
    assert rows["SAM"]["optimizer_calls"] == 1 and rows["SAM"]["optimizer_bytes"] == 4


def test_arsam_adds_only_scalar_collectives(rows) -> None:
    assert rows["ARSAM"]["optimizer_calls"] >= 1
    assert rows["ARSAM"]["optimizer_bytes"] <= 8 * rows["ARSAM"]["optimizer_calls"]


def test_fewer_than_two_processes_is_refused(capsys) -> None:
    assert load_tool("benchmark").main(["--sharded", "1", "--optimizers", "SAM", *TINY]) == 2
    assert "at least 2 processes" in capsys.readouterr().err
