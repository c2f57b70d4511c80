"""Compiled models train with every two-pass method: plain PyTorch and MMEngine's Runner.

The optimizer step stays eager (``torch.compiler.disable`` on the step and on
SAMOptimWrapper.update_params); the model's forward and backward run compiled. With the
'aot_eager' backend the pass counts equal those of an eager run and the weights agree to
1e-6; inductor (a C++ compile on the CPU, seconds) is checked on one method, to 1e-5.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.registry import MODELS
from torch import nn
from torch._dynamo.utils import counters

import arsam.core.mmengine_adapter  # noqa: F401  (registers the optimizers and the wrapper)
import tests.adapter.toy  # noqa: F401  (registers the toy dataset and metric)
from arsam.core import TWO_PASS_METHODS, MomentumSAM, TwoPassOptimizer
from arsam.tools.cli import build_runner
from tests.core.helpers import batches, tiny_model

STEPS = 8
ITERS = 6
TOY_CONFIG = Path(__file__).resolve().parents[1] / "adapter" / "toy_config.py"
TIGHT = 1e-6  # aot_eager runs the eager kernels; a margin for other CPUs' kernels


def methods() -> list[str]:
    """Every registered two-pass method."""
    return sorted(TWO_PASS_METHODS)


def build(name: str, model: nn.Module) -> TwoPassOptimizer:
    """The method ``name`` with its contract options around SGD with momentum."""
    spec = TWO_PASS_METHODS[name]
    return spec.build(
        model.parameters(),
        torch.optim.SGD,
        total_steps=STEPS,
        seed=0,
        lr=0.05,
        momentum=0.9,
        **spec.contract_options,
    )


def closure_steps(name: str, backend: str | None) -> tuple[nn.Module, TwoPassOptimizer]:
    """STEPS closure steps of ``name`` on tiny_model, compiled with ``backend`` unless None."""
    model = tiny_model()
    opt = build(name, model)
    opt.freeze_statistics_of(model)
    net = model if backend is None else torch.compile(model, backend=backend)
    for x, y in batches(STEPS):

        def closure(x: torch.Tensor = x, y: torch.Tensor = y) -> torch.Tensor:
            opt.zero_grad()
            loss = nn.functional.cross_entropy(net(x), y)
            loss.backward()
            return loss

        opt.step(closure)
    return model, opt


def two_call_steps(name: str, step: Callable[..., None]) -> tuple[nn.Module, TwoPassOptimizer]:
    """STEPS steps of ``name`` through ``step(net, opt, x, y)``, the model compiled (aot_eager)."""
    model = tiny_model()
    opt = build(name, model)
    opt.freeze_statistics_of(model)
    net = torch.compile(model, backend="aot_eager")
    for x, y in batches(STEPS):
        step(net, opt, x, y)
    return model, opt


def two_calls(net: nn.Module, opt: TwoPassOptimizer, x: torch.Tensor, y: torch.Tensor) -> None:
    """One step with the two-call API."""
    opt.zero_grad()
    nn.functional.cross_entropy(net(x), y).backward()
    if opt.first_step():
        nn.functional.cross_entropy(net(x), y).backward()
        opt.second_step()


def assert_same_training(
    actual: tuple[nn.Module, TwoPassOptimizer],
    expected: tuple[nn.Module, TwoPassOptimizer],
    atol: float = TIGHT,
) -> None:
    """Same pass counts, and weights and statistics equal within ``atol``."""
    (model, opt), (ref_model, ref_opt) = actual, expected
    for key in ("steps", "sam_steps", "grad_evals"):
        assert opt.stats[key] == ref_opt.stats[key], key
    assert ref_opt.stats["sam_steps"] >= 1 or isinstance(ref_opt, MomentumSAM)  # one pass
    for (key, value), ref in zip(model.state_dict().items(), ref_model.state_dict().values()):
        torch.testing.assert_close(value, ref, atol=atol, rtol=0.0, msg=key)


@pytest.fixture
def dynamo_counters() -> Iterator[dict]:
    """torch._dynamo's counters, counting from an empty compile cache."""
    torch._dynamo.reset()
    counters.clear()
    yield counters


# ------------------------------------------------------------------ plain PyTorch
@pytest.mark.parametrize("name", methods())
def test_compiled_model_with_the_closure_step(name: str) -> None:
    assert_same_training(closure_steps(name, "aot_eager"), closure_steps(name, None))


@pytest.mark.parametrize("name", ["ARSAM", "SAM"])
def test_compiled_model_with_the_two_call_api(name: str) -> None:
    assert_same_training(two_call_steps(name, two_calls), closure_steps(name, None))


def test_compiled_training_step_keeps_the_optimizer_eager(dynamo_counters: dict) -> None:
    step = torch.compile(two_calls, backend="aot_eager")
    assert_same_training(two_call_steps("ARSAM", step), closure_steps("ARSAM", None))
    # the forward of pass 1 and, statistics frozen, of pass 2; first/second_step run eagerly
    assert dynamo_counters["stats"]["unique_graphs"] == 2


def test_inductor_compiled_model(dynamo_counters: dict) -> None:
    assert_same_training(closure_steps("ARSAM", "inductor"), closure_steps("ARSAM", None), 1e-5)
    # one graph with BatchNorm statistics on, one with them frozen (second passes)
    assert dynamo_counters["stats"]["unique_graphs"] == 2


# ------------------------------------------------------------------ MMEngine's Runner
@MODELS.register_module(force=True)
class CompileToyModel(BaseModel):
    """A BatchNorm classifier without Python-side counters (they would force recompiles)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor, mode: str = "tensor", **_: Any):
        logits = self.net(inputs)
        if mode == "loss":
            return {"loss": nn.functional.cross_entropy(logits, labels)}
        if mode == "predict":
            return [(logits.argmax(1) == labels).float().mean()]
        return logits


def runner_config(name: str, work_dir: str, backend: str | None) -> Config:
    """The adapter's toy config: ``name`` around SGD, ITERS iterations, compiled if asked."""
    cfg = Config.fromfile(str(TOY_CONFIG))
    cfg.work_dir = work_dir
    cfg.launcher = "none"
    cfg.model = dict(type="CompileToyModel")
    cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=ITERS, val_interval=100)
    cfg.train_dataloader.dataset.size = ITERS * cfg.train_dataloader.batch_size  # no restart
    cfg.default_hooks = dict(logger=dict(type="LoggerHook", interval=1), checkpoint=None)
    spec = TWO_PASS_METHODS[name]
    optimizer = dict(type=name, base_optimizer=dict(type="SGD", lr=0.1, momentum=0.9), rho=0.05)
    if spec.accepts("total_steps"):
        optimizer["total_steps"] = ITERS
    cfg.optim_wrapper.optimizer = dict(optimizer, **spec.contract_options)
    if backend is not None:
        cfg.compile = dict(backend=backend)
    return cfg


def runner_training(cfg: Config) -> tuple[nn.Module, TwoPassOptimizer]:
    """Train ``cfg`` with MMEngine's Runner; the trained model and its optimizer."""
    runner = build_runner(copy.deepcopy(cfg))
    runner.train()
    return runner.model, runner.optim_wrapper.optimizer


@pytest.mark.parametrize("name", methods())
def test_runner_compile_trains_every_method(name: str, tmp_path) -> None:
    counters.clear()
    eager = runner_training(runner_config(name, str(tmp_path / "eager"), None))
    compiled = runner_training(runner_config(name, str(tmp_path / "compiled"), "aot_eager"))
    assert_same_training(compiled, eager)
    # MomentumSAM moves the weights eagerly before the forward: one break, before any operation
    moves = "MomentumSAM.before_forward"
    assert not [k for k in counters["unimplemented"] if moves not in k or name != "MomentumSAM"]
    # train_step is compiled up to update_params, which runs eagerly: one graph, compiled by
    # the first of these tests and reused by the others (no recompiles across steps or methods)
    assert counters["stats"]["unique_graphs"] <= 1
