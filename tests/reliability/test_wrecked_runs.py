"""No wrecked run ends in success: bad clipping bounds are refused, runs that skip their steps stop.

Each case was measured on main (713577e) to end with exit code 0 (issue 24, items 2 and 7).
"""

from __future__ import annotations

import math
import re
from functools import partial

import mmengine.optim.optimizer.amp_optimizer_wrapper as amp_wrapper
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import EpochBasedTrainLoop

from arsam.core.mmengine_adapter import SAMOptimWrapper
from arsam.core.sam import SAM
from arsam.tools.cli import main
from arsam.tools.cli.runs import train
from tests.adapter.conftest import CONFIG
from tests.reliability.test_user_errors import train_with

SGD = dict(type="SGD", lr=0.1, momentum=0.9)


@HOOKS.register_module(force=True)
class PoisonBatches(Hook):
    """Fills the inputs with NaN on the first ``first`` iterations and all but every ``keep``-th."""

    def __init__(self, first: int = 0, keep: int | None = None) -> None:
        self.first, self.keep = first, keep

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        i = runner.iter
        if i < self.first or (self.keep is not None and i % self.keep):
            data_batch["inputs"].fill_(float("nan"))


def toy(tmp_path, epochs: int, **settings: object) -> Config:
    """The toy ARSAM config for ``epochs`` epochs of 4 iterations, with ``settings`` merged."""
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir, cfg.launcher = str(tmp_path / "work"), "none"
    cfg.train_cfg.max_epochs = epochs
    cfg.merge_from_dict(settings)
    return cfg


def run(capsys, cfg: Config) -> tuple[int, str, str]:
    """Train ``cfg`` as tools/train.py does; the exit code, stdout and stderr."""
    code = main(lambda: train(cfg))
    out, err = capsys.readouterr()
    return code, out, err


def stopped_for_skipping(code: int, err: str) -> str:
    """Assert exit code 3 and one paragraph about skipped steps; return it."""
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 3 and len(lines) == 1 and "Traceback" not in err, err
    assert "this run is not training" in lines[0] and "NonFiniteCheckHook" in lines[0]
    return lines[0]


@pytest.fixture
def no_training_step(monkeypatch):
    """Fail the test if any training iteration starts."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a training step ran before the mistake was reported")

    monkeypatch.setattr(EpochBasedTrainLoop, "run_iter", forbidden)
    monkeypatch.delenv("ARSAM_DEBUG", raising=False)


def plain_wrapper_config(tmp_path, wrapper: str, clip_grad: dict) -> str:
    """A config file: the toy model with plain SGD in ``wrapper`` and ``clip_grad``."""
    path = tmp_path / f"{wrapper}.py"
    path.write_text(
        f"_base_ = [{CONFIG!r}]\n"
        f"optim_wrapper = dict(_delete_=True, type={wrapper!r}, optimizer={SGD!r}, "
        f"clip_grad={clip_grad!r})\n"
    )
    return str(path)


@pytest.mark.usefixtures("no_training_step")
@pytest.mark.parametrize(
    ("wrapper", "clip_grad", "expected"),
    [
        ("SAMOptimWrapper", dict(max_norm=-1), "clip_grad.max_norm must be a finite number > 0"),
        ("SAMOptimWrapper", dict(max_norm=0), "clip_grad.max_norm must be a finite number > 0"),
        ("SAMOptimWrapper", dict(max_norm=1, norm_type=0), "norm_type must be a number > 0"),
        ("SAMOptimWrapper", dict(max_norm=1, foreach=True), "no option 'foreach'"),
        ("OptimWrapper", dict(max_norm=-1), "clip_grad.max_norm must be a finite number > 0"),
        ("OptimWrapper", dict(max_norm=0.0), "clip_grad.max_norm must be a finite number > 0"),
        ("OptimWrapper", dict(type="value", clip_value=-1), "clip_value must be a finite number"),
        ("OptimWrapper", dict(max_norm=1, max_nrom=2), "no option 'max_nrom'"),
        ("AmpOptimWrapper", dict(max_norm=-1), "clip_grad.max_norm must be a finite number > 0"),
    ],
)
def test_clip_bound_that_flips_or_erases_gradients_is_refused(
    capsys, tmp_path, wrapper: str, clip_grad: dict, expected: str
) -> None:
    if wrapper == "SAMOptimWrapper":
        options = [f"optim_wrapper.clip_grad.{key}={value}" for key, value in clip_grad.items()]
        message = train_with(capsys, tmp_path, *options)
    else:
        message = train_with(
            capsys, tmp_path, config=plain_wrapper_config(tmp_path, wrapper, clip_grad)
        )
    assert expected in message
    if "must be a finite number" in expected:  # the value, the range and the fix
        value = clip_grad.get("max_norm", clip_grad.get("clip_value"))
        assert f"got {value!r}" in message and "leave clip_grad out" in message


@pytest.mark.usefixtures("no_training_step")
@pytest.mark.parametrize("option", ["max_grad_norm=-1", "grad_norm_type=0"])
def test_optimizer_clipping_settings_are_refused_before_any_step(capsys, tmp_path, option) -> None:
    message = train_with(capsys, tmp_path, f"optim_wrapper.optimizer.{option}")
    key, value = option.split("=")
    assert f"optim_wrapper.optimizer.{key} must lie in (0, inf), got {value}" in message


def test_core_optimizer_checks_clipping_at_construction_and_later() -> None:
    model = torch.nn.Linear(3, 1)
    with pytest.raises(ValueError, match=r"grad_norm_type must lie in \(0, inf\), got -2"):
        SAM(model.parameters(), torch.optim.SGD, lr=0.1, grad_norm_type=-2)
    opt = SAM(model.parameters(), torch.optim.SGD, lr=0.1, max_grad_norm=1.0)
    with pytest.raises(ValueError, match=r"max_grad_norm must lie in \(0, inf\), got -1.*None"):
        opt.max_grad_norm = -1
    with pytest.raises(ValueError, match="max_grad_norm must be finite"):
        opt.max_grad_norm = math.nan
    assert opt.max_grad_norm == 1.0
    opt.max_grad_norm, opt.grad_norm_type = None, math.inf
    assert (opt.max_grad_norm, opt.grad_norm_type) == (None, math.inf)


def test_sam_optim_wrapper_built_in_python_checks_clipping() -> None:
    opt = SAM(torch.nn.Linear(3, 1).parameters(), torch.optim.SGD, lr=0.1)
    with pytest.raises(ValueError, match=r"optim_wrapper.clip_grad.max_norm .* got -1"):
        SAMOptimWrapper(opt, clip_grad=dict(max_norm=-1))
    assert opt.max_grad_norm is None


@pytest.mark.parametrize(
    "skipping",
    [{"optim_wrapper.optimizer.skip_nonfinite": True}, {"optim_wrapper.dtype": "float16"}],
    ids=["skip_nonfinite", "float16_loss_scaler"],
)
def test_run_whose_every_step_is_skipped_stops_with_exit_3(capsys, tmp_path, skipping) -> None:
    cfg = toy(tmp_path, epochs=8, **{"model.nan_after": 0, **skipping})
    message = stopped_for_skipping(*run(capsys, cfg)[::2])
    assert "the last 26 optimizer steps in a row were skipped" in message
    assert "max_consecutive_skips=25" in message and "iteration 26 " in message


def test_plain_sgd_under_the_loss_scaler_every_step_skipped_stops(
    capsys, tmp_path, monkeypatch
) -> None:
    # AmpOptimWrapper as MMEngine builds it on a GPU, with its GradScaler on the CPU
    monkeypatch.setattr(amp_wrapper, "is_cuda_available", lambda: True)
    monkeypatch.setattr(amp_wrapper, "GradScaler", partial(torch.amp.GradScaler, "cpu"))
    cfg = toy(tmp_path, epochs=8, **{"model.nan_after": 0})
    cfg.optim_wrapper = dict(type="AmpOptimWrapper", dtype="bfloat16", optimizer=SGD)
    message = stopped_for_skipping(*run(capsys, cfg)[::2])
    assert "the last 26 optimizer steps in a row were skipped" in message


def test_run_that_skips_most_of_its_steps_stops_with_exit_3(capsys, tmp_path) -> None:
    cfg = toy(tmp_path, epochs=22, **{"optim_wrapper.optimizer.skip_nonfinite": True})
    cfg.custom_hooks = [dict(type="PoisonBatches", keep=4)]  # 3 of every 4 steps skipped
    message = stopped_for_skipping(*run(capsys, cfg)[::2])
    assert re.search(r"26 of its 35 optimizer steps \(74%\) were skipped", message), message
    assert "max_skipped_fraction=0.1" in message


def test_a_loss_scaler_warm_up_of_skipped_steps_does_not_stop_the_run(capsys, tmp_path) -> None:
    cfg = toy(tmp_path, epochs=4, **{"optim_wrapper.optimizer.skip_nonfinite": True})
    cfg.custom_hooks = [dict(type="PoisonBatches", first=12)]  # 12 of 16 steps, then none
    code, out, err = run(capsys, cfg)
    assert code == 0, err
    assert re.search(r"^steps: 4 taken, 12 skipped, \d+ SAM steps", out, re.M), out


def test_the_last_line_states_steps_taken_skipped_and_sam_steps(capsys, tmp_path) -> None:
    code, out, err = run(capsys, toy(tmp_path, epochs=2))
    assert code == 0, err
    counters = torch.load(tmp_path / "work" / "epoch_2.pth", weights_only=True)["optimizer"][
        "counters"
    ]
    passes = counters["grad_evals"] / 8
    assert out.splitlines()[-1] == (
        f"steps: 8 taken, 0 skipped, {counters['sam_steps']} SAM steps "
        f"({passes:.2f} passes per step)"
    )
    assert counters["sam_steps"] > 0

    cfg = toy(tmp_path / "sgd", epochs=2)
    cfg.optim_wrapper = dict(type="OptimWrapper", optimizer=SGD)
    code, out, err = run(capsys, cfg)
    assert code == 0, err
    assert out.splitlines()[-1] == "steps: 8 taken, 0 skipped (one forward-backward pass per step)"


@pytest.mark.usefixtures("no_training_step")
def test_skip_limits_are_checked_before_any_step(capsys, tmp_path) -> None:
    cfg = toy(tmp_path, epochs=1)
    cfg.custom_hooks = [dict(type="NonFiniteCheckHook", max_skipped_fraction=10)]
    code, _, err = run(capsys, cfg)
    assert code == 2 and "Traceback" not in err, err
    assert "error: custom_hooks: NonFiniteCheckHook's max_skipped_fraction must be" in err
    assert "got 10" in err


@pytest.mark.usefixtures("no_training_step")
def test_two_pass_optimizer_in_a_plain_wrapper_names_the_wrapper(capsys, tmp_path) -> None:
    message = train_with(capsys, tmp_path, "optim_wrapper.type=OptimWrapper")
    assert "the config has optim_wrapper type='OptimWrapper'" in message
    assert "{kind!r}" not in message
