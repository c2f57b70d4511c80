"""--resume refuses, before any step, a state it cannot continue and a length it would not plan."""

from __future__ import annotations

import pytest
import torch
from mmengine.config import Config

from arsam.core.mmengine_adapter.optimizer_identity import (
    check_resume_plan,
    check_same_optimizer,
    identity_of,
)
from arsam.core.training_infra.checkpoint_checks import CheckpointError
from arsam.tools.cli.runs import build_runner
from arsam.tools.train import run as train_tool
from tests.adapter.conftest import CONFIG
from tests.reliability.test_user_errors import (  # noqa: F401  (no_training_step: autouse)
    no_training_step,
    one_paragraph,
    saved_checkpoint,
)

PLAIN_SGD = dict(
    _delete_=True, type="OptimWrapper", optimizer=dict(type="SGD", lr=0.1, momentum=0.9)
)
PLAIN_SGD_OPTIONS = [
    "optim_wrapper._delete_=True",
    "optim_wrapper.type=OptimWrapper",
    "optim_wrapper.optimizer.type=SGD",
    "optim_wrapper.optimizer.lr=0.1",
    "optim_wrapper.optimizer.momentum=0.9",
]
ADAM_BASE = [
    "optim_wrapper.optimizer.base_optimizer._delete_=True",
    "optim_wrapper.optimizer.base_optimizer.type=Adam",
    "optim_wrapper.optimizer.base_optimizer.lr=0.001",
]
COSINE = dict(type="CosineAnnealingLR", by_epoch=True, begin=0, end=2, T_max=2)


def scheduled_checkpoint(tmp_path, scheduler: dict | None) -> str:
    """saved_checkpoint's one-epoch toy checkpoint, with ``scheduler``'s state when given."""
    if scheduler is None:
        return saved_checkpoint(tmp_path)
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir, cfg.launcher = str(tmp_path / "source"), "none"
    cfg.param_scheduler = scheduler
    runner = build_runner(cfg)
    runner.call_hook("before_run")
    runner.train_loop  # noqa: B018  (builds the loop that the schedulers convert with)
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    runner.param_schedulers = runner.build_param_scheduler(runner.param_schedulers)
    runner.save_checkpoint(cfg.work_dir, "epoch_1.pth")
    return str(tmp_path / "source" / "epoch_1.pth")


def resume(capsys, tmp_path, checkpoint: str, *options: str) -> str:
    """The one paragraph of a refused ``--resume checkpoint`` with ``options`` (exit 2)."""
    argv = [CONFIG, "--work-dir", str(tmp_path / "work"), "--resume", checkpoint]
    return one_paragraph(capsys, train_tool, *argv, "--cfg-options", *options)


def test_an_arsam_state_is_not_resumed_by_plain_sgd(capsys, tmp_path) -> None:
    # Before: trained on with SGD, ARSAM's PSF and rho left unused in the state, exit 0.
    message = resume(capsys, tmp_path, saved_checkpoint(tmp_path), *PLAIN_SGD_OPTIONS)
    assert "written by ARSAMPaper around SGD" in message
    assert "this run builds a plain SGD optimizer" in message
    assert "load_from=PATH instead of --resume" in message


def test_a_plain_sgd_state_is_not_resumed_by_arsam(capsys, tmp_path) -> None:
    checkpoint = saved_checkpoint(tmp_path, optim_wrapper=PLAIN_SGD)
    message = resume(capsys, tmp_path, checkpoint, "train_cfg.max_epochs=2")
    assert "written by a plain torch optimizer (no two-pass state)" in message
    assert "this run builds ARSAMPaper around SGD" in message


def test_a_state_around_sgd_is_not_resumed_around_adam(capsys, tmp_path) -> None:
    # Before: a bare KeyError: 'step' (plain API) where the base optimizers differ.
    message = resume(capsys, tmp_path, saved_checkpoint(tmp_path), *ADAM_BASE)
    assert "written by ARSAMPaper around SGD, and this run builds ARSAMPaper around Adam" in message


def test_a_plain_state_of_another_optimizer_is_refused() -> None:
    sgd = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1, momentum=0.9)
    adam = torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))])
    with pytest.raises(CheckpointError, match="dampening, momentum, nesterov are not Adam's"):
        check_same_optimizer(sgd.state_dict(), identity_of(adam), "the resumed checkpoint")
    check_same_optimizer(sgd.state_dict(), identity_of(sgd), "the resumed checkpoint")


def test_a_longer_run_is_refused_when_the_schedule_ends_with_the_saved_run(
    capsys, tmp_path
) -> None:
    # Before: the extra epochs trained at the cosine's final learning rate, no message.
    checkpoint = scheduled_checkpoint(tmp_path, COSINE)
    message = resume(capsys, tmp_path, checkpoint, "train_cfg.max_epochs=3")
    assert "planned for 2 epochs, this run for 3 epochs" in message
    assert "param_scheduler 0 ends at epoch 2" in message
    assert "--cfg-options train_cfg.max_epochs=2" in message and "load_from=PATH" in message


@pytest.mark.parametrize(
    ("scheduler", "max_epochs", "refused"),
    [
        (dict(COSINE, convert_to_iter_based=True), 1, True),  # ends at iteration 8
        (COSINE, 2, False),  # the same length
        (dict(COSINE, end=100, T_max=100), 3, False),  # a schedule that does not end with the run
        (None, 3, False),  # nothing planned over the length: an interrupted run goes on
    ],
)
def test_which_length_changes_are_refused(
    tmp_path, scheduler: dict | None, max_epochs: int, refused: bool
) -> None:
    checkpoint = torch.load(scheduled_checkpoint(tmp_path, scheduler), weights_only=True)
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir, cfg.launcher = str(tmp_path / "resumed"), "none"
    cfg.train_cfg.max_epochs = max_epochs
    runner = build_runner(cfg)
    if refused:
        with pytest.raises(CheckpointError, match="ends at iteration 8"):
            check_resume_plan(checkpoint, "epoch_1.pth", runner)
    else:
        check_resume_plan(checkpoint, "epoch_1.pth", runner)
