"""tools/train.py trains with FlexibleRunner + FSDP2Strategy and resumes bit for bit.

Two gloo CPU processes train the toy config (ARSAM, 10 steps over 5 epochs) sharded with
FSDP2, saving every epoch and keeping 3 checkpoints. A second launch starts from a copy of
the third epoch's checkpoint (``epoch_3.pth`` and its ``epoch_3.pth.shards``) with
``--resume`` and no path, so the newest checkpoint is found as for any run. The resumed run
must end exactly where the uninterrupted one did: weights, the whole optimizer state (PSF,
momentum, counters, schedule), statistics and every SAM decision.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest
import torch

from tests.adapter.test_distributed import dist_train_two

from .test_fsdp2_checkpoint import assert_identical

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, "tests", "distributed", "fsdp2_flexible_config.py")


def launch(work: str, *options: str) -> None:
    """tools/dist_train.sh CONFIG 2 on gloo, in ``work``."""
    dist_train_two(CONFIG, work, *options)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The uninterrupted run and the run resumed from its third epoch."""
    folder = tmp_path_factory.mktemp("fsdp2_flexible")
    whole, resumed = folder / "whole", folder / "resumed"
    launch(str(whole))
    resumed.mkdir()
    shutil.copy(whole / "epoch_3.pth", resumed)
    shutil.copytree(whole / "epoch_3.pth.shards", resumed / "epoch_3.pth.shards")
    (resumed / "last_checkpoint").write_text(str(resumed / "epoch_3.pth"))
    launch(str(resumed), "--resume")
    records = {
        name: [torch.load(path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
        for name, path in (("whole", whole), ("resumed", resumed))
    }
    return {"whole_dir": whole, **records}


def test_the_config_trains_sharded_with_equal_ranks(runs) -> None:
    for rank in (0, 1):
        text = (runs["whole_dir"] / f"runner{rank}.txt").read_text()
        assert text == "FlexibleRunner FSDP2Strategy"
    first, second = runs["whole"]
    assert first["world_size"] == 2 and first["backend"] == "gloo"
    assert first["wrapper"].startswith("FSDP")  # fully_shard's class of the model
    assert first["stats"]["steps"] == 10 and 2 <= first["stats"]["sam_steps"] < 10
    assert_identical(first["weights"], second["weights"], "weights")
    assert_identical(first["optimizer"], second["optimizer"], "optimizer")
    assert first["sam_steps"] == second["sam_steps"]


def test_a_resumed_run_ends_bitwise_equal_to_the_uninterrupted_one(runs) -> None:
    for whole, resumed in zip(runs["whole"], runs["resumed"], strict=True):
        assert_identical(resumed["weights"], whole["weights"], "weights")
        assert_identical(resumed["optimizer"], whole["optimizer"], "optimizer")
        assert resumed["stats"] == whole["stats"]
        assert resumed["sam_steps"] == whole["sam_steps"][6:]  # epochs 4 and 5


def test_checkpoints_hold_shards_and_rotate_with_them(runs) -> None:
    work = runs["whole_dir"]
    names = sorted(os.listdir(work))
    assert [n for n in names if n.startswith("epoch_")] == [
        "epoch_2.pth.shards",  # its file was rotated out at the last save, removed at the next
        "epoch_3.pth",
        "epoch_3.pth.shards",
        "epoch_4.pth",
        "epoch_4.pth.shards",
        "epoch_5.pth",
        "epoch_5.pth.shards",
    ]
    checkpoint = torch.load(work / "epoch_5.pth", weights_only=True)
    assert "state_dict" not in checkpoint  # the weights are in the shards only
    assert checkpoint["sharded"]["directory"] == "epoch_5.pth.shards"
    assert checkpoint["sharded"]["world_size"] == 2
    assert checkpoint["sharded"]["optimizer"]  # PSF and momentum, sharded
