"""Strategies and wrappers that shard in a way SAM cannot reduce: one paragraph, exit 2, no step."""

from __future__ import annotations

import pytest

from arsam.tools.test import run as evaluate_tool
from tests.adapter.conftest import CONFIG
from tests.reliability.test_user_errors import (  # noqa: F401  (the fixture forbids steps)
    no_training_step,
    one_paragraph,
    saved_checkpoint,
    train_with,
)

SUPPORTED = ("DDPStrategy", "tools/dist_train.sh", "fully_shard", "FSDP2Strategy")


@pytest.mark.parametrize(
    ("strategy", "reason"),
    [
        ("FSDPStrategy", "FSDP1 flat shards"),
        ("DeepSpeedStrategy", "optimizer step inside DeepSpeed's engine"),
        ("ColossalAIStrategy", "optimizer step inside ColossalAI's booster"),
    ],
)
def test_flexible_runner_strategy_is_refused(capsys, tmp_path, strategy: str, reason: str) -> None:
    message = train_with(
        capsys, tmp_path, "runner_type=FlexibleRunner", f"strategy.type={strategy}"
    )
    assert f"strategy type='{strategy}' is not supported" in message and reason in message
    assert all(name in message for name in SUPPORTED), message


@pytest.mark.parametrize(
    "option",
    [
        "model_wrapper_cfg.type=MMFullyShardedDataParallel",
        "strategy.model_wrapper.type=MMFullyShardedDataParallel",
    ],
)
def test_fsdp1_model_wrapper_is_refused(capsys, tmp_path, option: str) -> None:
    options = [option] if option.startswith("model") else ["runner_type=FlexibleRunner", option]
    message = train_with(capsys, tmp_path, *options)
    assert option.split(".type")[0] in message and "MMFullyShardedDataParallel" in message
    assert "FSDP1" in message and all(name in message for name in SUPPORTED), message


def test_strategy_without_flexible_runner_is_not_dropped(capsys, tmp_path) -> None:
    message = train_with(capsys, tmp_path, "strategy.type=FSDPStrategy")
    assert "only MMEngine's FlexibleRunner reads" in message
    assert "runner_type=FlexibleRunner" in message


def test_evaluation_refuses_the_strategy_too(capsys, tmp_path) -> None:
    checkpoint = saved_checkpoint(tmp_path)
    options = ["runner_type=FlexibleRunner", "strategy.type=DeepSpeedStrategy"]
    argv = [CONFIG, checkpoint, "--work-dir", str(tmp_path / "test"), "--cfg-options", *options]
    message = one_paragraph(capsys, evaluate_tool, *argv)
    assert "strategy type='DeepSpeedStrategy' is not supported" in message
