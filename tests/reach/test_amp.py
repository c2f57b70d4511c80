"""--amp on every task's smallest CPU config: bfloat16 autocast, and float16 with a GradScaler.

Each run goes through the command line's code (``load_config(..., amp=True)`` and
``arsam.tools.cli.train``) for two iterations, without validation, and checks that the forward
really ran in the reduced precision, that the loss is finite and that a SAM step happened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import Runner
from torch import nn

import arsam.core.mmengine_adapter  # registers the optimizers and the wrapper
import arsam.tasks.pose  # noqa: F401  (applies the compatibility shims)
from arsam.tasks.pose.synthetic_coco import generate
from arsam.tools.cli import UserError, enable_amp, load_config, train
from tests.pose.helpers import DEMO_CONFIG, SMALL_ARSAM_PAPER, synthetic_overrides, write_config

REPO = Path(__file__).resolve().parents[2]
DIGITS = REPO / "configs" / "classification" / "digits_arsam_paper.py"
DIGITS_QAT = REPO / "configs" / "quantization" / "digits_w4a4_arsam_paper.py"
ITERS = 2
BATCH = 8  # float16 convolutions on the CPU are slow


@HOOKS.register_module(force=True)
class RecordComputeDtypes(Hook):
    """Records the output dtypes of the model's convolutions and linear layers while training."""

    def before_train(self, runner: Runner) -> None:
        self.dtypes: set[torch.dtype] = set()
        for module in runner.model.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                module.register_forward_hook(self._record)

    def _record(self, module: nn.Module, inputs: Any, output: Any) -> None:
        if module.training and isinstance(output, torch.Tensor):
            self.dtypes.add(output.dtype)


@pytest.fixture(scope="module")
def pose_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic-data HRNet ARSAMPaper config on a few generated images."""
    root = tmp_path_factory.mktemp("amp_pose")
    generate(str(root / "data"), train=8, val=2, seed=0)
    entries = synthetic_overrides(str(root / "data"), epochs=1, val_interval=1)
    return write_config(
        root / "hrnet_arsam_tiny.py", DEMO_CONFIG, optim_wrapper=SMALL_ARSAM_PAPER, **entries
    )


def two_iterations(cfg: Config) -> Config:
    """``cfg`` cut to ITERS training iterations, both SAM steps (ARSAMPaper's warm-up)."""
    cfg.train_cfg = dict(by_epoch=False, max_iters=ITERS)
    cfg.train_dataloader.batch_size = min(cfg.train_dataloader.batch_size, BATCH)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger = dict(type="LoggerHook", interval=1)
    cfg.log_processor = dict(by_epoch=False, window_size=1)
    cfg.log_level = "WARNING"
    cfg.custom_hooks = [*(cfg.get("custom_hooks") or []), dict(type="RecordComputeDtypes")]
    optimizer = cfg.optim_wrapper.optimizer
    optimizer.pop("warmup_epochs", None)
    optimizer.warmup_steps = ITERS
    return cfg


def trained(cfg: Config) -> tuple[Runner, set[torch.dtype]]:
    """Train ``cfg`` as tools/train.py does; the runner and the dtypes its layers computed in."""
    runner = train(two_iterations(cfg))
    recorder = next(h for h in runner.hooks if isinstance(h, RecordComputeDtypes))
    return runner, recorder.dtypes


def assert_trained_with_sam(runner: Runner) -> None:
    """A finite loss and at least one SAM step."""
    loss = runner.message_hub.get_scalar("train/loss").current()
    assert np.isfinite(loss)
    stats = runner.optim_wrapper.optimizer.stats
    assert stats["sam_steps"] >= 1 and stats["steps"] + stats["skipped_steps"] == ITERS


@pytest.mark.parametrize("task", ["classification", "quantization", "pose"])
def test_amp_trains_each_task_in_bfloat16_on_cpu(task: str, tmp_path: Path, request) -> None:
    config = {"classification": DIGITS, "quantization": DIGITS_QAT}.get(task)
    if config is None:
        config = request.getfixturevalue("pose_config")
    cfg = load_config(str(config), work_dir=str(tmp_path / "work"), amp=True)
    assert cfg.optim_wrapper.dtype == "bfloat16"
    runner, dtypes = trained(cfg)
    assert runner.optim_wrapper.loss_scaler is None  # bfloat16 needs no loss scaling
    assert torch.bfloat16 in dtypes
    assert_trained_with_sam(runner)


def test_amp_on_a_cuda_machine_is_float16_with_a_grad_scaler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = load_config(str(DIGITS), work_dir=str(tmp_path / "work"))
    with monkeypatch.context() as cuda:
        cuda.setattr(torch.cuda, "is_available", lambda: True)
        enable_amp(cfg)  # what --amp chooses where CUDA is available
    assert cfg.optim_wrapper.dtype == "float16" and cfg.optim_wrapper.loss_scale == "dynamic"
    cfg.optim_wrapper.loss_scale = 1024.0  # no overflow-skipped steps in a two-step run
    runner, dtypes = trained(cfg)
    assert isinstance(runner.optim_wrapper.loss_scaler, torch.amp.GradScaler)
    assert torch.float16 in dtypes
    assert_trained_with_sam(runner)


# ------------------------------------------------------------ --amp's config handling
def sam_wrapper(**settings: Any) -> Config:
    """A config holding only an ARSAM optim_wrapper with ``settings``."""
    optimizer = dict(type="ARSAM", base_optimizer=dict(type="SGD", lr=0.1))
    return Config(dict(optim_wrapper=dict(optimizer=optimizer, **settings)))


def test_amp_wrapper_around_a_two_pass_optimizer_becomes_sam_optim_wrapper() -> None:
    cfg = sam_wrapper(type="AmpOptimWrapper", loss_scale=512.0, dtype="bfloat16")
    enable_amp(cfg)
    wrapper = cfg.optim_wrapper
    assert wrapper.type == "SAMOptimWrapper" and wrapper.constructor == "SAMOptimWrapperConstructor"
    assert wrapper.dtype == "bfloat16" and wrapper.loss_scale == 512.0


def test_a_config_with_amp_optim_wrapper_around_arsam_loads_as_sam_optim_wrapper(
    tmp_path: Path,
) -> None:
    config = tmp_path / "amp_arsam.py"
    config.write_text(f"optim_wrapper = {sam_wrapper(type='AmpOptimWrapper').optim_wrapper!r}\n")
    wrapper = load_config(str(config), work_dir=str(tmp_path)).optim_wrapper  # no --amp
    assert wrapper.type == "SAMOptimWrapper" and wrapper.dtype in ("float16", "bfloat16")


def test_amp_keeps_a_dtype_the_config_gives() -> None:
    cfg = sam_wrapper(type="SAMOptimWrapper", dtype=torch.float16)
    enable_amp(cfg)
    assert cfg.optim_wrapper.dtype == "float16"


def test_amp_refuses_an_unknown_dtype() -> None:
    with pytest.raises(UserError, match=r"optim_wrapper.dtype 'float32' .* 'bfloat16'"):
        enable_amp(sam_wrapper(type="SAMOptimWrapper", dtype="float32"))


def test_amp_refuses_a_plain_wrapper_around_a_two_pass_optimizer() -> None:
    with pytest.raises(UserError, match="cannot run the two-pass optimizer 'ARSAM'"):
        enable_amp(sam_wrapper(type="OptimWrapper"))


def test_amp_for_a_plain_optimizer_on_the_cpu_says_what_to_do(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = Config(dict(optim_wrapper=dict(type="OptimWrapper", optimizer=dict(type="SGD", lr=0.1))))
    with pytest.raises(UserError, match=r"needs a GPU.*without --amp"):
        enable_amp(cfg)


def test_pose_heads_turn_bfloat16_tensors_into_float32_arrays() -> None:
    from mmpose.models.heads.heatmap_heads import heatmap_head

    heatmaps = torch.rand(2, 3, dtype=torch.bfloat16)
    array = heatmap_head.to_numpy(heatmaps)
    assert array.dtype == np.float32 and np.array_equal(array, heatmaps.float().numpy())
    pair = heatmap_head.to_numpy((heatmaps, torch.ones(2, dtype=torch.int64)))
    assert [a.dtype for a in pair] == [np.float32, np.int64]
