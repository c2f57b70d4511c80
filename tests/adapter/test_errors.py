"""User mistakes get a paragraph that says what to do, raised before any training."""

from __future__ import annotations

import copy
import os
import subprocess
import sys

import pytest
from mmengine.config import Config

from arsam.core.training_infra.checkpoints import AtomicLocalBackend
from arsam.tools.cli import UserError, build_runner, load_config
from tests.adapter.conftest import CONFIG

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT)
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "train.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_wrong_config_path_from_the_command_line() -> None:
    done = cli("configs/nowhere/missing.py")
    assert done.returncode == 2
    assert "config file 'configs/nowhere/missing.py' not found" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_optimizer_from_the_command_line(tmp_path) -> None:
    done = cli(
        CONFIG, "--work-dir", str(tmp_path), "--cfg-options", "optim_wrapper.optimizer.type=ARSAMM"
    )
    assert done.returncode == 2
    assert "unknown optimizer 'ARSAMM'" in done.stderr and "ARSAM" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_base_optimizer() -> None:
    with pytest.raises(UserError, match="needs base_optimizer"):
        load_config(CONFIG, cfg_options={"optim_wrapper.optimizer.base_optimizer.type": "SGDD"})


def train(cfg: Config) -> None:
    build_runner(copy.deepcopy(cfg)).train()


def test_accumulative_counts_is_rejected(toy_cfg: Config) -> None:
    toy_cfg.optim_wrapper.accumulative_counts = 2
    with pytest.raises(ValueError, match="does not support accumulative_counts"):
        train(toy_cfg)


def test_clip_by_value_is_rejected(toy_cfg: Config) -> None:
    toy_cfg.optim_wrapper.clip_grad = dict(type="value", clip_value=1.0)
    with pytest.raises(ValueError, match="clipping by value is not supported"):
        train(toy_cfg)


def test_missing_constructor_is_explained(toy_cfg: Config) -> None:
    toy_cfg.optim_wrapper.pop("constructor")
    with pytest.raises(RuntimeError, match="constructor='SAMOptimWrapperConstructor'"):
        train(toy_cfg)


def test_plain_optimizer_in_sam_wrapper_is_explained(toy_cfg: Config) -> None:
    toy_cfg.optim_wrapper.optimizer = dict(type="SGD", lr=0.1)
    with pytest.raises(TypeError, match="needs a two-pass optimizer"):
        train(toy_cfg)


def test_warmup_epochs_needs_an_epoch_based_loop() -> None:
    with pytest.raises(UserError, match="warmup_epochs needs an epoch-based train loop"):
        load_config(CONFIG, cfg_options={"train_cfg": dict(by_epoch=False, max_iters=2)})


def test_exclusion_pattern_that_matches_nothing(toy_cfg: Config) -> None:
    toy_cfg.optim_wrapper.exclude_from_perturbation = ["no_such_parameter"]
    with pytest.raises(ValueError, match="matched no parameter name"):
        train(toy_cfg)


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path) -> None:
    target = tmp_path / "ckpt.pth"
    backend = AtomicLocalBackend()
    backend.put(b"complete", target)
    with pytest.raises(TypeError):
        backend.put("not bytes", target)  # fails while writing
    assert target.read_bytes() == b"complete"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pth"]
