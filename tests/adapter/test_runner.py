"""The two-pass step through MMEngine's real Runner: optimizers, resume, AMP, telemetry."""

from __future__ import annotations

import copy
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from arsam.core import SAM, ARSAMPaper
from arsam.tools.cli import build_runner


def train(cfg: Config) -> Runner:
    runner = build_runner(copy.deepcopy(cfg))
    runner.train()
    return runner


# Peers that need the run's length, with options that make every step a SAM step; no
# total_steps: the wrapper gives it from train_cfg.
LENGTH_TAKERS = {
    "LateSAM": dict(sam_fraction=1.0),
    "AESAM": dict(delta=0.0),  # then sigma_t = 0 and ||g||^2 >= mu_t always holds
    "RandomSAM": dict(p_start=1.0, p_end=1.0),
}
# Peers that need no run length, with the options a scalar-loss closure needs.
PEER_OPTIONS = {"ESAM": dict(gamma=1.0)}  # weight perturbation alone: no per-sample losses


def use_optimizer(cfg: Config, kind: str) -> None:
    if kind == "SGD":
        cfg.optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="SGD", lr=0.1))
    else:
        cfg.optim_wrapper.optimizer.type = kind
        if kind == "SAM" or kind in LENGTH_TAKERS or kind in PEER_OPTIONS:
            for key in ("warmup_epochs", "window", "var_blocks"):
                cfg.optim_wrapper.optimizer.pop(key)
            cfg.optim_wrapper.optimizer.update(LENGTH_TAKERS.get(kind, {}))
            cfg.optim_wrapper.optimizer.update(PEER_OPTIONS.get(kind, {}))


@pytest.mark.parametrize(
    ("kind", "forwards_per_iter"),
    [
        ("SGD", 1),
        ("SAM", 2),
        ("ARSAMPaper", 2),
        *((kind, 2) for kind in LENGTH_TAKERS),
        *((kind, 2) for kind in PEER_OPTIONS),
    ],
)
def test_two_iterations_with_each_optimizer(toy_cfg: Config, kind: str, forwards_per_iter: int):
    use_optimizer(toy_cfg, kind)
    toy_cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=2, val_interval=100)
    toy_cfg.optim_wrapper.get("optimizer", {}).pop("warmup_epochs", None)
    if kind == "ARSAMPaper":
        toy_cfg.optim_wrapper.optimizer.warmup_steps = 2
    runner = train(toy_cfg)
    assert runner.model.loss_forwards == 2 * forwards_per_iter
    if kind != "SGD":
        assert runner.optim_wrapper.optimizer.stats["grad_evals"] == 2 * forwards_per_iter
        assert int(runner.model.net[1].num_batches_tracked) == 2  # statistics frozen in pass 2
    if kind in LENGTH_TAKERS:
        assert runner.optim_wrapper.optimizer.rule.total_steps == 2  # from train_cfg.max_iters


def test_esam_data_selection_through_the_wrapper_is_refused(toy_cfg: Config) -> None:
    use_optimizer(toy_cfg, "ESAM")
    toy_cfg.optim_wrapper.optimizer.gamma = 0.5
    toy_cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=1, val_interval=100)
    with pytest.raises(ValueError, match=r"SAMOptimWrapper gives such a closure.*gamma=1\.0"):
        train(toy_cfg)


def test_momentum_sam_trains_one_pass_per_step_and_saves_the_unperturbed_weights(
    toy_cfg: Config,
) -> None:
    use_optimizer(toy_cfg, "SAM")
    toy_cfg.optim_wrapper.optimizer.update(type="MomentumSAM", rho=0.5)
    runner = train(toy_cfg)  # 2 epochs of 4 iterations, a checkpoint after each epoch
    opt = runner.optim_wrapper.optimizer
    assert runner.model.loss_forwards == opt.stats["grad_evals"] == opt.stats["steps"] == 8
    assert int(runner.model.net[1].num_batches_tracked) == 8
    checkpoint = torch.load(osp.join(runner.work_dir, "epoch_2.pth"), weights_only=True)
    assert checkpoint["optimizer"]["kind"] == "MomentumSAM"
    saved = checkpoint["state_dict"]
    model = runner.model.state_dict()
    assert all(torch.equal(saved[k], model[k].cpu()) for k in saved)
    before = [p.clone() for p in runner.model.parameters()]
    opt.before_forward()  # the weights sat at w: moving to w - rho v/||v|| changes them
    assert not all(torch.equal(a, b) for a, b in zip(before, runner.model.parameters()))


def test_arsam_skips_second_passes_after_warmup(toy_cfg: Config) -> None:
    toy_cfg.train_cfg.max_epochs = 6
    runner = train(toy_cfg)
    opt = runner.optim_wrapper.optimizer
    assert isinstance(opt, ARSAMPaper)
    assert opt.schedule.warmup_steps == 4  # warmup_epochs=1, 4 iterations per epoch
    assert opt.stats["steps"] == 24
    assert 4 <= opt.stats["sam_steps"] < 24
    assert runner.model.loss_forwards == 24 + opt.stats["sam_steps"]


def test_telemetry_reaches_the_logs(toy_cfg: Config) -> None:
    runner = train(toy_cfg)
    scalars = osp.join(runner.log_dir, "vis_data", "scalars.json")
    with open(scalars) as f:
        records = [json.loads(line) for line in f]
    keys = set().union(*records)
    assert {"sam_fraction", "quota", "grad_evals"} <= keys


def test_resume_continues_the_schedule_exactly(toy_cfg: Config, tmp_path) -> None:
    toy_cfg.train_cfg.max_epochs = 4
    straight = train(toy_cfg)

    first = copy.deepcopy(toy_cfg)
    first.work_dir = str(tmp_path / "interrupted")
    first.train_cfg.max_epochs = 2
    train(first)
    resumed_cfg = copy.deepcopy(toy_cfg)
    resumed_cfg.work_dir = first.work_dir
    resumed_cfg.resume = True
    resumed_cfg.load_from = osp.join(first.work_dir, "epoch_2.pth")
    resumed = train(resumed_cfg)

    a, b = straight.optim_wrapper.optimizer, resumed.optim_wrapper.optimizer
    assert a.stats == b.stats
    assert a.schedule.plan == b.schedule.plan
    for p, q in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.equal(p, q)


def test_checkpoints_load_with_weights_only(toy_cfg: Config) -> None:
    runner = train(toy_cfg)
    checkpoint = torch.load(osp.join(runner.work_dir, "epoch_2.pth"), weights_only=True)
    assert checkpoint["optimizer"]["kind"] == "ARSAMPaper"
    assert checkpoint["optimizer"]["rule"]["name"] == "ARSAMPaper"


def test_bf16_amp_on_cpu(toy_cfg: Config) -> None:
    from arsam.tools.cli import enable_amp

    enable_amp(toy_cfg)
    assert toy_cfg.optim_wrapper.dtype == "bfloat16"
    runner = train(toy_cfg)
    assert all(torch.isfinite(p).all() for p in runner.model.parameters())
    assert runner.optim_wrapper.optimizer.stats["steps"] == 8


def test_fp16_grad_scaler_path_on_cpu(toy_cfg: Config) -> None:
    toy_cfg.optim_wrapper.dtype = "float16"
    runner = train(toy_cfg)
    wrapper = runner.optim_wrapper
    assert wrapper.loss_scaler is not None
    assert "loss_scaler" in wrapper.state_dict()
    assert wrapper.optimizer.stats["steps"] + wrapper.optimizer.stats["skipped_steps"] == 8


def test_clip_grad_goes_to_the_final_gradient(toy_cfg: Config) -> None:
    toy_cfg.optim_wrapper.clip_grad = dict(max_norm=0.5, norm_type=2)
    runner = train(toy_cfg)
    assert runner.optim_wrapper.optimizer.max_grad_norm == 0.5


def test_exclude_from_perturbation_makes_unperturbed_groups(toy_cfg: Config) -> None:
    toy_cfg.optim_wrapper.exclude_from_perturbation = [r"net\.1\."]
    toy_cfg.train_cfg.max_epochs = 1
    runner = train(toy_cfg)
    groups = runner.optim_wrapper.optimizer.param_groups
    assert [g["perturb"] for g in groups] == [True, False]
    assert len(groups[1]["params"]) == 2  # BatchNorm weight and bias


def test_sam_wrapper_with_a_plain_model_forward(toy_cfg: Config) -> None:
    use_optimizer(toy_cfg, "SAM")
    toy_cfg.train_cfg.max_epochs = 1
    runner = train(toy_cfg)
    assert isinstance(runner.optim_wrapper.optimizer, SAM)
    assert runner.model.loss_forwards == 8


@pytest.mark.parametrize("kind", ["ARSAM", "ARSAMPaper"])
def test_the_log_names_the_method_and_its_resolved_settings_once(toy_cfg: Config, kind) -> None:
    toy_cfg.log_level = "INFO"
    if kind == "ARSAM":  # the horizon-aware schedule takes its settings from the run's length
        for key in ("warmup_epochs", "window", "var_blocks"):
            toy_cfg.optim_wrapper.optimizer.pop(key)
    toy_cfg.optim_wrapper.optimizer.type = kind
    runner = train(toy_cfg)
    with open(osp.join(runner.log_dir, f"{osp.basename(runner.log_dir)}.log")) as f:
        lines = [line for line in f if "optimizer: " in line and " around SGD, rho=0.05" in line]
    assert len(lines) == 1, lines
    schedule = "horizon" if kind == "ARSAM" else "paper"
    assert f"optimizer: {kind} around SGD" in lines[0]
    assert "a run of 8 steps" in lines[0] and f"schedule='{schedule}'" in lines[0]
    assert ("total_steps=8" in lines[0]) == (kind == "ARSAM")
