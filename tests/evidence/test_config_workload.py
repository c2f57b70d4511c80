"""tools/train.py on configs/evidence trains what train_one does on digits_cnn_bn_sgd, bitwise."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import OPTIMIZERS
from mmengine.runner import Runner

import arsam.tools.train
from arsam.tasks.evidence import get_workload, optimizer_spec, radius, train_one, trainer
from arsam.tasks.evidence.compared import BASE, build_optimizer
from arsam.tasks.evidence.config_check import missing_cell_options
from arsam.tasks.evidence.data import load_tensors
from arsam.tasks.evidence.mmengine_plugins import (
    ClosedFormCosineLR,
    EvidenceClassifier,
    EvidenceDataset,
    EvidenceSampler,
    FlushDenormalsHook,
    preflight,
)
from arsam.tasks.evidence.models import build_model
from arsam.tasks.evidence.radius import chosen_radius
from arsam.tools.cli.errors import UserError

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "evidence"
WORKLOAD = get_workload("digits_cnn_bn_sgd")
# config file suffix -> the optimizer label train_one is given
LABELS = {
    "sgd": BASE,
    "sam": "SAM",
    "arsam": "ARSAM",
    "arsam_paper": "ARSAMPaper",
    "late_sam": "LateSAM",
}
STEPS, SEED = 60, 1


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


HORIZON_OF = {WORKLOAD.steps(label): label for label in WORKLOAD.horizons}


def run_options(config: str, steps: int, seed: int) -> dict[str, Any]:
    """The --cfg-options that each config's header names for ``steps`` steps and ``seed``."""
    options: dict[str, Any] = {"train_cfg.max_iters": steps, "randomness.seed": seed}
    if steps == 10_000:
        options["train_dataloader.dataset.horizon"] = "10k"
    if steps == 50_000:
        options.update({"model.horizon": "50k", "train_dataloader.dataset.horizon": "50k"})
    if steps in (10_000, 50_000) and config != "sgd":
        horizon = HORIZON_OF[steps]
        options["optim_wrapper.optimizer.rho"] = chosen_radius(WORKLOAD, horizon, LABELS[config])
    if config == "arsam_paper":
        options["optim_wrapper.optimizer.warmup_steps"] = math.ceil(3 * steps / 200)
        options["optim_wrapper.optimizer.seed"] = seed
    return options


def train_with_tool(config: str, work_dir: Path) -> Runner:
    """Run tools/train.py's command line in this process; the Runner it trained."""
    options = [f"{key}={value}" for key, value in run_options(config, STEPS, SEED).items()]
    argv = [str(CONFIGS / f"digits_cnn_bn_{config}.py"), "--work-dir", str(work_dir)]
    return arsam.tools.train.run([*argv, "--cfg-options", *options])


def train_reference(
    label: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """train_one's final weights and record for the same run length and seed."""
    built: list[torch.nn.Module] = []

    def keep(*args: Any, **kwargs: Any) -> torch.nn.Module:
        built.append(build_model(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(trainer, "build_model", keep)
    workload = dataclasses.replace(WORKLOAD, horizons={"t": STEPS})
    # a short run of the 1k cell's setup, at each method's radius for that cell (the configs')
    monkeypatch.setitem(radius.CHOSEN, (WORKLOAD.name, "t"), radius.CHOSEN[WORKLOAD.name, "1k"])
    record = train_one(workload, label, SEED, "t")
    return built[0].state_dict(), record


@pytest.mark.parametrize("config", ["sgd", "sam", "arsam"])
def test_train_tool_trains_what_train_one_trains(
    config: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Bitwise, not close: on one CPU thread both loops run the same kernels in the same order
    # (MMEngine's loss sum of one term and its lr schedule, in closed form, are exact).
    runner = train_with_tool(config, tmp_path)
    expected, record = train_reference(LABELS[config], monkeypatch)

    weights = runner.model.network.state_dict()
    assert weights.keys() == expected.keys()
    differing = [name for name in expected if not torch.equal(weights[name], expected[name])]
    assert not differing, f"weights and BatchNorm buffers differ from train_one's: {differing}"
    optimizer = runner.optim_wrapper.optimizer
    stats = getattr(optimizer, "stats", {"sam_steps": 0, "grad_evals": runner.iter})
    assert runner.iter == record["steps"] == STEPS
    assert (stats["sam_steps"], stats["grad_evals"]) == (
        record["stats"]["sam_steps"],
        record["stats"]["grad_evals"],
    )
    # the last step's learning rate, and the test accuracy of the final evaluation
    assert optimizer.param_groups[0]["lr"] == trainer.cosine_lr(WORKLOAD.lr, STEPS - 1, STEPS)
    accuracy = runner.message_hub.get_scalar("val/accuracy/top1").current()
    # the same correct count: torchmetrics gives the share in float32 (1 in 1e7 of it)
    assert accuracy == pytest.approx(100 * record["accuracy"], rel=1e-6)


def optimizer_settings(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """What decides the optimizer's steps: its class, its groups' options, its rule's settings."""
    state = optimizer.state_dict()
    groups = [{k: v for k, v in g.items() if k != "params"} for g in state["param_groups"]]
    return {
        "class": type(optimizer),
        "groups": groups,
        "rule": state.get("rule", {}).get("settings"),
    }


def config_optimizer(cfg: Config) -> torch.optim.Optimizer:
    """The config's optimizer as the Runner builds it, with the run's length the wrapper gives."""
    block = dict(cfg.optim_wrapper.optimizer, params=[torch.zeros(1, requires_grad=True)])
    optimizer = OPTIMIZERS.build(block)
    if hasattr(optimizer, "set_total_steps"):
        optimizer.set_total_steps(cfg.train_cfg.max_iters)
    return optimizer


def workload_optimizer(label: str, steps: int, seed: int) -> torch.optim.Optimizer:
    """The optimizer train_one builds for ``label`` at the horizon of ``steps``, and ``seed``."""
    base_kwargs = {"lr": WORKLOAD.lr, **WORKLOAD.base_kwargs}
    params = [torch.zeros(1, requires_grad=True)]
    spec = optimizer_spec(label)
    rho = chosen_radius(WORKLOAD, HORIZON_OF[steps], label)
    optimizer, _ = build_optimizer(spec, params, WORKLOAD.base, base_kwargs, rho, steps, seed)
    return optimizer


@pytest.mark.parametrize("config", list(LABELS))
@pytest.mark.parametrize(("steps", "seed"), [(1_000, 0), (10_000, 3), (50_000, 2)])
def test_config_names_the_workloads_settings(config: str, steps: int, seed: int) -> None:
    cfg = Config.fromfile(CONFIGS / f"digits_cnn_bn_{config}.py")
    if (steps, seed) == (1_000, 0):
        assert cfg.train_cfg.max_iters == WORKLOAD.steps("1k")
    else:  # another horizon and seed, with the options the config's header names
        cfg.merge_from_dict(run_options(config, steps, seed))
    assert (cfg.train_cfg.max_iters, cfg.randomness.seed) == (steps, seed)
    assert cfg.train_cfg.type == "IterBasedTrainLoop"

    datasets = (cfg.train_dataloader.dataset, cfg.val_dataloader.dataset)
    assert cfg.model.workload == WORKLOAD.name
    assert [d.workload for d in datasets] == [WORKLOAD.name] * 2
    assert cfg.train_dataloader.batch_size == WORKLOAD.batch_size
    assert cfg.train_dataloader.sampler.type == "EvidenceSampler"
    assert [s.type for s in cfg.param_scheduler] == ["ClosedFormCosineLR"]

    wrapper = "OptimWrapper" if LABELS[config] == BASE else "SAMOptimWrapper"
    assert cfg.optim_wrapper.type == wrapper
    expected = optimizer_settings(workload_optimizer(LABELS[config], steps, seed))
    assert optimizer_settings(config_optimizer(cfg)) == expected, (
        f"configs/evidence/digits_cnn_bn_{config}.py (or _base_/digits_cnn_bn.py) no longer "
        f"matches {WORKLOAD.name} in tasks/evidence/workloads.py and optimizers.py"
    )


@pytest.mark.parametrize("steps", [1_000, 10_000])
def test_sampler_and_schedule_follow_the_trainer_over_whole_horizons(steps: int) -> None:
    dataset = EvidenceDataset(WORKLOAD.name, "train", seed=SEED)
    stream = iter(EvidenceSampler(dataset, seed=SEED))
    order = torch.tensor([next(stream) for _ in range(steps * WORKLOAD.batch_size)])
    expected = trainer.batch_indices(len(dataset), WORKLOAD.batch_size, steps, SEED)
    assert torch.equal(order, expected.flatten())

    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=WORKLOAD.lr)
    scheduler = ClosedFormCosineLR(optimizer, by_epoch=False, begin=0, end=steps, eta_min=0.0)
    for step in range(steps):
        assert optimizer.param_groups[0]["lr"] == trainer.cosine_lr(WORKLOAD.lr, step, steps)
        optimizer.step()
        scheduler.step()


def test_a_horizon_with_its_own_model_builds_that_model() -> None:
    overridden = [h for h in WORKLOAD.horizons if WORKLOAD.model_at(h)[0] != WORKLOAD.model]
    assert overridden == ["50k"], "the CNN workload's long horizon trains an MLP with BatchNorm"
    name, kwargs = WORKLOAD.model_at(overridden[0])
    model = EvidenceClassifier(WORKLOAD.name, horizon=overridden[0], seed=SEED)
    data = load_tensors(WORKLOAD.data, SEED)
    torch.manual_seed(SEED)
    expected = build_model(name, data.in_shape, data.num_classes, **kwargs).state_dict()
    weights = model.network.state_dict()
    assert weights.keys() == expected.keys()
    assert all(torch.equal(weights[key], expected[key]) for key in expected)


@pytest.mark.parametrize("horizon", ["10k", "50k"])
def test_a_horizon_with_its_own_data_loads_that_data(horizon: str) -> None:
    long = EvidenceDataset(WORKLOAD.name, "train", seed=SEED, horizon=horizon)
    expected = load_tensors(WORKLOAD.data_at(horizon), SEED)
    assert WORKLOAD.data_at(horizon) != WORKLOAD.data, "past 1k the CNN trains on all digits"
    assert torch.equal(long.inputs, expected.x_train) and torch.equal(long.labels, expected.y_train)
    assert len(EvidenceDataset(WORKLOAD.name, "train", seed=SEED)) == WORKLOAD.data.train_size
    with pytest.raises(ValueError, match="has no horizon '5k'"):
        EvidenceDataset(WORKLOAD.name, "train", seed=SEED, horizon="5k")


def test_the_configs_header_names_each_horizons_radius() -> None:
    lines = (CONFIGS / "_base_" / "digits_cnn_bn.py").read_text().splitlines()
    header = " ".join(" ".join(line.lstrip("#").split()) for line in lines)
    base = Config.fromfile(CONFIGS / "_base_" / "digits_cnn_bn.py")
    sam, arsam = (
        [chosen_radius(WORKLOAD, h, m) for h in ("1k", "10k", "50k")] for m in ("SAM", "ARSAM")
    )
    assert base.rho == sam[0]
    assert "SAM {:g}, {:g} and {:g} at 1k, 10k and 50k".format(*sam) in header
    assert "ARSAM {:g}, {:g} and {:g}".format(*arsam) in header
    for config in ("arsam", "arsam_paper", "late_sam"):  # the others name their own 1k radius
        cfg = Config.fromfile(CONFIGS / f"digits_cnn_bn_{config}.py")
        assert cfg.optim_wrapper.optimizer.rho == chosen_radius(WORKLOAD, "1k", LABELS[config])


def header_config(config: str, options: dict[str, Any]) -> Config:
    """The config with ``options`` merged, as tools/train.py would check it."""
    cfg = Config.fromfile(CONFIGS / f"digits_cnn_bn_{config}.py")
    cfg.merge_from_dict(options)
    return cfg


@pytest.mark.parametrize("config", list(LABELS))
@pytest.mark.parametrize("steps", [1_000, 10_000, 50_000, STEPS])
def test_the_headers_options_pass_the_cell_check(config: str, steps: int) -> None:
    cfg = header_config(config, run_options(config, steps, 0))
    assert missing_cell_options(cfg)[1] == {}
    preflight(cfg)


@pytest.mark.parametrize(
    ("config", "steps", "named"),
    [
        (
            "sam",
            10_000,
            {"train_dataloader.dataset.horizon": "10k", "optim_wrapper.optimizer.rho": 0.6},
        ),
        ("sgd", 10_000, {"train_dataloader.dataset.horizon": "10k"}),
        (
            "arsam",
            50_000,
            {
                "model.horizon": "50k",
                "train_dataloader.dataset.horizon": "50k",
                "optim_wrapper.optimizer.rho": 3.6,  # ARSAM's own radius for the cell
            },
        ),
    ],
)
def test_a_cells_length_without_its_setup_is_refused_naming_the_options(
    config: str, steps: int, named: dict[str, Any]
) -> None:
    cfg = header_config(config, {"train_cfg.max_iters": steps})
    assert missing_cell_options(cfg) == (HORIZON_OF[steps], named)
    listed = " ".join(f"{key}={value}" for key, value in named.items())
    with pytest.raises(ValueError, match=f"--cfg-options {listed} to train the cell"):
        preflight(cfg)
    preflight(header_config(config, {"train_cfg.max_iters": steps, "evidence_cell_check": False}))


def test_the_train_tool_refuses_the_setup_before_training(tmp_path: Path) -> None:
    argv = [str(CONFIGS / "digits_cnn_bn_sam.py"), "--work-dir", str(tmp_path / "run")]
    with pytest.raises(UserError, match="is the 1k cell of the evidence workload"):
        arsam.tools.train.run([*argv, "--cfg-options", "optim_wrapper.optimizer.rho=0.6"])
    assert not list(tmp_path.rglob("*.pth")), "nothing was trained"


def test_the_configs_flush_subnormals_while_training_as_train_one_does() -> None:
    cfg = Config.fromfile(CONFIGS / "digits_cnn_bn_sam.py")
    assert [h.type for h in cfg.custom_hooks] == ["FlushDenormalsHook"]
    hook = FlushDenormalsHook(**{k: v for k, v in cfg.custom_hooks[0].items() if k != "type"})
    assert hook.flush is WORKLOAD.flush_denormals is True
    tiny = torch.tensor([1e-39])
    hook.before_train(runner=None)
    assert (tiny * 1.0).item() == 0.0
    hook.after_train(runner=None)
    assert (tiny * 1.0).item() != 0.0
