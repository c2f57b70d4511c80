"""Sharded (FSDP2) runs save with torch.distributed.checkpoint and resume bit for bit.

Two gloo CPU processes train every registered method for ``STEPS`` steps, once
uninterrupted and once saving at ``HALF`` with ``arsam.core.sharded.save_sharded``; new
processes load that checkpoint into a fresh model and optimizer with ``load_sharded``
and train the rest (tests/distributed/fsdp2_checkpoint_runs.py). The resumed run must
equal the uninterrupted one exactly: weights, every optimizer buffer (PSF, momentum),
counters, schedule and SAM decisions. One process and four processes load the same
checkpoint too (resharding 2 -> 1 and 2 -> 4): what they load, gathered whole, must equal
what was saved, exactly (DCP only moves the saved bytes between shards).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import torch

from arsam.core import TWO_PASS_METHODS
from arsam.core.sharded import SHARDED_META, load_sharded

from .fsdp2_checkpoint_runs import spawn
from .fsdp2_runs import build, mlp

METHODS = sorted(TWO_PASS_METHODS)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Each phase's records: saved on 2 ranks, resumed on 2, loaded on 1 and on 4."""
    folder = str(tmp_path_factory.mktemp("fsdp2_checkpoint"))
    return {
        "folder": folder,
        "save": spawn(2, "save", METHODS, folder),
        "resume": spawn(2, "resume", METHODS, folder),
        "reshard": spawn(1, "load", METHODS, folder) + spawn(4, "load", METHODS, folder),
    }


def assert_identical(a: Any, b: Any, where: str = "") -> None:
    """``a`` and ``b`` are equal, tensors bit for bit (same dtype, shape and values)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_identical(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, y, f"{where}/{i}")
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert torch.equal(a.view(-1).view(torch.uint8), b.view(-1).view(torch.uint8)), where
    else:
        assert a == b or (a != a and b != b), where


@pytest.mark.parametrize("name", METHODS)
def test_a_resumed_sharded_run_equals_the_uninterrupted_one_bitwise(name, runs) -> None:
    for saved, resumed in zip(runs["save"], runs["resume"], strict=True):
        uninterrupted, first = saved[name]["uninterrupted"], saved[name]["saved"]
        second = resumed[name]["resumed"]
        assert_identical(second["weights"], uninterrupted["weights"], "weights")
        assert_identical(second["optimizer"], uninterrupted["optimizer"], "optimizer")
        assert first["sam"] + second["sam"] == uninterrupted["sam"]


@pytest.mark.parametrize("name", METHODS)
def test_one_and_four_ranks_load_what_two_ranks_saved(name, runs) -> None:
    saved = runs["save"][0][name]["saved"]
    assert len(runs["reshard"]) == 5  # 1 rank, then 4
    for rank in runs["reshard"]:
        assert_identical(rank[name]["loaded"]["weights"], saved["weights"], "weights")
        assert_identical(rank[name]["loaded"]["optimizer"], saved["optimizer"], "optimizer")


def test_the_checkpoint_replaced_its_partial_directory(runs) -> None:
    entries = sorted(os.listdir(runs["folder"]))
    assert not [e for e in entries if e.endswith((".partial", ".previous"))]
    assert os.path.isfile(os.path.join(runs["folder"], "SAM", SHARDED_META))


def test_another_method_is_refused_before_any_tensor_is_read(runs) -> None:
    model = mlp()
    opt = build("SAM", model)
    other = next(n for n in METHODS if n != "SAM")
    with pytest.raises(ValueError, match="written by"):
        load_sharded(os.path.join(runs["folder"], other), model, opt)


def test_an_interrupted_save_is_named_as_such(tmp_path) -> None:
    (tmp_path / "ckpt.partial").mkdir()
    model = mlp()
    with pytest.raises(FileNotFoundError, match="interrupted save"):
        load_sharded(tmp_path / "ckpt.partial", model, build("SAM", model))
