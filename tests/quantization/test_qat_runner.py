"""Quantization-aware training through MMEngine's Runner on the digits, a few iterations each."""

import json
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS
from mmengine.runner import Runner

import arsam.core.mmengine_adapter  # noqa: F401
from arsam.tasks.quantization import export_checkpoint
from arsam.tools.cli import build_runner

from .helpers import (
    CONFIG_DIR,
    batchnorm_counters,
    quantizer_counters,
    scale_parameters,
    tiny_runner_cfg,
)

ITERS = 4


def _train(config, tmp_path, iters=ITERS, **backbone):
    cfg = tiny_runner_cfg(config, tmp_path / "work", iters=iters, **backbone)
    runner = build_runner(cfg)
    runner.train()
    return runner


def _logged(runner):
    records = []
    for path in sorted(Path(runner.log_dir).glob("vis_data/*.json")):
        with open(path) as handle:
            records += [json.loads(line) for line in handle if line.strip()]
    return records


@pytest.mark.parametrize("optimizer", ["sgd", "sam", "arsam"])
def test_qat_runs_and_counts_each_minibatch_once(optimizer, tmp_path):
    runner = _train(f"digits_w4a4_{optimizer}.py", tmp_path, collect_stats_steps=50)
    model = runner.model
    assert quantizer_counters(model) == {ITERS}
    assert batchnorm_counters(model) == {ITERS}
    records = _logged(runner)
    assert any("accuracy/top1" in r for r in records)
    if optimizer != "sgd":
        stats = runner.optim_wrapper.optimizer.stats
        assert stats["steps"] == ITERS and stats["sam_steps"] >= 1
        assert stats["grad_evals"] == ITERS + stats["sam_steps"]


@pytest.mark.parametrize("optimizer", ["sam", "arsam"])
def test_scales_form_unperturbed_groups_by_default(optimizer, tmp_path):
    cfg = tiny_runner_cfg(f"digits_w4a4_{optimizer}.py", tmp_path / "work")
    runner = build_runner(cfg)
    scales = {id(p) for p in scale_parameters(runner.model).values()}
    groups = runner.build_optim_wrapper(cfg.optim_wrapper).optimizer.param_groups
    for group in groups:
        ids = {id(p) for p in group["params"]}
        assert ids <= scales if not group["perturb"] else not ids & scales
    assert sum(len(g["params"]) for g in groups if not g["perturb"]) == len(scales)
    for group in groups:
        if not group["perturb"]:
            assert group["weight_decay"] == 0.0


def test_scales_can_join_the_perturbation(tmp_path):
    cfg = tiny_runner_cfg("digits_w4a4_arsam.py", tmp_path / "work")
    cfg.optim_wrapper.exclude_from_perturbation = []
    runner = build_runner(cfg)
    groups = runner.build_optim_wrapper(cfg.optim_wrapper).optimizer.param_groups
    assert all(group["perturb"] for group in groups)


def test_trained_model_survives_a_checkpoint_and_exports(tmp_path, capsys):
    runner = _train("digits_w4a4_sgd.py", tmp_path, collect_stats_steps=1)
    model = runner.model.eval()
    inputs = model.data_preprocessor({"inputs": torch.rand(4, 1, 16, 16) * 255})["inputs"]
    with torch.no_grad():
        expected = model(inputs)
    checkpoint = tmp_path / "work" / f"iter_{ITERS}.pth"
    cfg = tiny_runner_cfg("digits_w4a4_sgd.py", tmp_path / "again")
    fresh = MODELS.build(cfg.model).eval()
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    fresh.load_state_dict(state)
    with torch.no_grad():
        actual = fresh(inputs)
    torch.testing.assert_close(actual, expected)

    dumped = tmp_path / "work" / "digits_w4a4_sgd.py"
    output = tmp_path / "digits.onnx"
    assert export_checkpoint.main([str(dumped), str(checkpoint), str(output), "--size", "16"]) == 0
    printed = capsys.readouterr().out
    assert " 11 weights at 4 bits, integers in [-7, 7]" in printed
    assert "  9 activations at 4 bits, integers in [0, 15]" in printed
    network = export_checkpoint.build_trained_network(dumped, checkpoint)
    torch.testing.assert_close(network(inputs), expected)


def test_qat_starts_from_a_float_classification_checkpoint(tmp_path):
    float_cfg = Config.fromfile(str(CONFIG_DIR.parent / "classification" / "digits_sgd.py"))
    float_cfg.work_dir = str(tmp_path / "float")
    float_cfg.train_cfg = dict(by_epoch=False, max_iters=1, val_interval=10)
    float_cfg.train_dataloader.batch_size = 8
    float_cfg.param_scheduler = []
    float_cfg.val_cfg = float_cfg.val_dataloader = float_cfg.val_evaluator = None
    float_cfg.test_cfg = float_cfg.test_dataloader = float_cfg.test_evaluator = None
    float_cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=1, by_epoch=False)
    float_runner = Runner.from_cfg(float_cfg)
    float_runner.train()
    checkpoint = tmp_path / "float" / "iter_1.pth"
    float_state = float_runner.model.backbone.state_dict()

    cfg = tiny_runner_cfg("digits_w4a4_sgd.py", tmp_path / "qat", float_checkpoint=str(checkpoint))
    model = MODELS.build(cfg.model)
    for key, value in float_state.items():
        assert torch.equal(model.backbone.state_dict()[key], value), key
