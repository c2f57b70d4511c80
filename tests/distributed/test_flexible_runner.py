"""tools/train.py and tools/test.py build the runner a config names: MMEngine's FlexibleRunner."""

from __future__ import annotations

import os

import torch
from mmengine.runner import FlexibleRunner

from arsam.tools.cli.runs import RELIABILITY_HOOKS
from arsam.tools.test import run as evaluate_tool
from arsam.tools.train import run as train_tool
from tests.adapter.conftest import CONFIG
from tests.adapter.test_distributed import dist_train_two

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLEXIBLE_CONFIG = os.path.join(ROOT, "tests", "distributed", "flexible_config.py")
NAME_RUNNER = ("--cfg-options", "runner_type=FlexibleRunner")


def test_one_process_flexible_runner_trains_like_the_runner_and_evaluates(tmp_path) -> None:
    flexible = train_tool([CONFIG, "--work-dir", str(tmp_path / "flexible"), *NAME_RUNNER])
    plain = train_tool([CONFIG, "--work-dir", str(tmp_path / "plain")])
    assert isinstance(flexible, FlexibleRunner) and not isinstance(plain, FlexibleRunner)
    hooks = {type(hook).__name__ for hook in flexible.hooks}
    assert set(RELIABILITY_HOOKS) <= hooks
    assert flexible.optim_wrapper.optimizer.stats == plain.optim_wrapper.optimizer.stats
    for p, q in zip(flexible.model.parameters(), plain.model.parameters()):
        assert torch.equal(p, q)
    checkpoint = str(tmp_path / "flexible" / "epoch_2.pth")
    argv = [CONFIG, checkpoint, "--work-dir", str(tmp_path / "test")]
    assert evaluate_tool([*argv, *NAME_RUNNER]) == evaluate_tool(argv)


def test_ddp_strategy_on_two_gloo_processes_keeps_the_ranks_equal(tmp_path) -> None:
    work = tmp_path / "work"
    dist_train_two(FLEXIBLE_CONFIG, str(work))
    rank0 = torch.load(work / "rank0.pt", weights_only=True)
    rank1 = torch.load(work / "rank1.pt", weights_only=True)
    for rank in (0, 1):  # the config names the runner and its strategy
        assert (work / f"runner{rank}.txt").read_text() == "FlexibleRunner DDPStrategy"
    for record in (rank0, rank1):
        assert record["world_size"] == 2 and record["backend"] == "gloo"
        assert record["wrapper"] == "CPUDistributedDataParallel"
    assert rank0["stats"]["steps"] == 10  # 16 samples per rank, batch 8, 5 epochs
    assert rank0["sam_steps"] == rank1["sam_steps"]  # after every iteration
    assert rank0["stats"] == rank1["stats"]
    assert 2 <= rank0["stats"]["sam_steps"] < 10  # warm-up SAM steps, then reuse steps
    for p, q in zip(rank0["weights"], rank1["weights"]):
        assert torch.equal(p, q)
