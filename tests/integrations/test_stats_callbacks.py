"""The trainer callbacks of arsam.core.integrations: ARSAM's telemetry in the trainers' own logs.

A short Hugging Face ``Trainer`` run (the recipe's ``ARSAMTrainer``) and short Lightning
runs (automatic and manual optimization) must report ``opt.stats`` through the trainer's
logging path; Lightning's ``gradient_clip_val`` with a two-pass optimizer is refused before
any step; HF's own ``grad_norm`` is the norm of the gradient ARSAM's update used (after
ARSAM's ``max_grad_norm`` clipping), as docs/recipes.md says.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from arsam.core.integrations import loggable_stats
from tests.integrations.helpers import (
    exercised_both_steps,
    fit_lightning,
    fixed_batches,
    small_classifier,
    tensors_of,
)

STEPS = 12
EVERY = 4
KEYS = ("two_pass/sam_fraction", "two_pass/sam_steps", "two_pass/grad_evals", "two_pass/rho")


# ------------------------------------------------------------------ Hugging Face
@pytest.fixture
def _single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """A single-process run: no launcher variables left in the environment by anything else."""
    for name in ("LOCAL_RANK", "RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)


def hf_trainer(tmp_path: Any, trainer_class: Any = None, **options: Any) -> Any:
    """The recipe's ARSAMTrainer (or ``trainer_class``) set to log every EVERY steps, untrained."""
    import transformers

    from tests.integrations.test_transformers_trainer import ARSAMTrainer, examples, tiny_bert

    settings: dict[str, Any] = dict(
        output_dir=str(tmp_path),
        max_steps=STEPS,
        per_device_train_batch_size=4,
        learning_rate=1e-2,
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        logging_strategy="steps",
        logging_steps=EVERY,
        disable_tqdm=True,
    )
    args = transformers.TrainingArguments(**{**settings, **options.pop("args", {})})
    cls = ARSAMTrainer if trainer_class is None else trainer_class
    return cls(model=tiny_bert(), args=args, train_dataset=examples(4 * STEPS), **options)


def recorder() -> Any:
    """A TrainerCallback that keeps a copy of every logs dict it is shown."""
    import transformers

    class Recorder(transformers.TrainerCallback):
        def __init__(self) -> None:
            self.logs: list[dict[str, float]] = []

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            self.logs.append(dict(logs))

    return Recorder()


@pytest.mark.usefixtures("_single_process")
@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
def test_hf_callback_reports_the_stats_to_every_callback(tmp_path: Any) -> None:
    from arsam.core.integrations.hf_trainer import add_stats_callback

    seen = recorder()  # stands for a reporter: it comes before callbacks added later
    trainer = hf_trainer(tmp_path, callbacks=[seen])
    add_stats_callback(trainer)
    trainer.train()
    assert exercised_both_steps(trainer.two_pass, STEPS)
    steps = [entry["step"] for entry in trainer.state.log_history if "loss" in entry]
    assert steps == [4, 8, 12]
    assert len(seen.logs) == 4  # three training logs and the run's summary
    for logs in seen.logs[:3]:
        assert all(key in logs for key in KEYS)
    assert seen.logs[2] == {
        **seen.logs[2],
        **loggable_stats(trainer.two_pass),
    }
    assert seen.logs[2]["two_pass/steps"] == STEPS
    history = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert all(all(key in entry for key in KEYS) for entry in history)
    assert history[0]["two_pass/steps"] == EVERY


@pytest.mark.usefixtures("_single_process")
@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
def test_hf_callback_given_to_the_trainer_fills_the_log_history(tmp_path: Any) -> None:
    from arsam.core.integrations.hf_trainer import TwoPassStatsCallback

    trainer = hf_trainer(tmp_path, callbacks=[TwoPassStatsCallback()])
    trainer.train()
    history = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert [entry["two_pass/steps"] for entry in history] == [4.0, 8.0, 12.0]
    assert history[-1]["two_pass/sam_fraction"] == trainer.two_pass.stats["sam_fraction"]
    assert 0 < history[-1]["two_pass/sam_fraction"] < 1


@pytest.mark.usefixtures("_single_process")
@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
@pytest.mark.parametrize("max_grad_norm", [1.0, 0.0], ids=["clipped", "unclipped"])
def test_hf_grad_norm_is_the_norm_of_the_gradient_the_update_used(
    tmp_path: Any, max_grad_norm: float
) -> None:
    from tests.integrations.test_transformers_trainer import ARSAMTrainer

    used: list[float] = []

    class UpdateNormTrainer(ARSAMTrainer):  # type: ignore[misc]
        """The recipe, plus the norm of the gradient in .grad when the base optimizer steps."""

        def create_optimizer(self, model: nn.Module | None = None) -> torch.optim.Optimizer:
            optimizer = super().create_optimizer(model)
            base = self.two_pass.base_optimizer
            step = base.step

            def recording_step(*args: Any, **kwargs: Any) -> Any:
                grads = [p.grad for group in base.param_groups for p in group["params"]]
                norms = torch.stack([g.norm() for g in grads if g is not None])
                used.append(float(torch.linalg.vector_norm(norms)))
                return step(*args, **kwargs)

            base.step = recording_step
            return optimizer

    options = dict(logging_steps=1, max_grad_norm=max_grad_norm)
    trainer = hf_trainer(tmp_path, trainer_class=UpdateNormTrainer, args=options)
    trainer.train()
    logged = [entry["grad_norm"] for entry in trainer.state.log_history if "grad_norm" in entry]
    assert exercised_both_steps(trainer.two_pass, STEPS)
    assert logged == pytest.approx(used, rel=1e-5)
    if max_grad_norm:  # ARSAM clipped before the Trainer measured: some norms sit at the cap
        assert max(logged) == pytest.approx(max_grad_norm, rel=1e-5)


@pytest.mark.usefixtures("_single_process")
def test_hf_callback_without_a_two_pass_optimizer_says_what_to_do(tmp_path: Any) -> None:
    import transformers

    from arsam.core.integrations.hf_trainer import TwoPassStatsCallback

    trainer = hf_trainer(
        tmp_path,
        trainer_class=transformers.Trainer,
        args=dict(max_steps=1, logging_steps=1),
        callbacks=[TwoPassStatsCallback()],
    )
    with pytest.raises(TypeError, match=r"found no SAM/ARSAM optimizer .*optimizer=opt"):
        trainer.train()


# ---------------------------------------------------------------------- Lightning
def recording_logger() -> Any:
    """A Lightning logger that keeps every (step, metrics) it is given."""
    from lightning.pytorch.loggers import Logger

    class RecordingLogger(Logger):
        def __init__(self) -> None:
            super().__init__()
            self.records: list[tuple[int | None, dict[str, float]]] = []

        @property
        def name(self) -> str:
            return "recording"

        @property
        def version(self) -> int:
            return 0

        def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
            """Nothing to keep."""

        def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
            self.records.append((step, dict(metrics)))

    return RecordingLogger()


def lightning_module(kind: str) -> Any:
    """The automatic or the manual recipe's LightningModule around the small classifier."""
    if kind == "automatic":
        from tests.integrations.test_lightning_automatic import AutomaticARSAMModule

        return AutomaticARSAMModule(small_classifier())
    from tests.integrations.test_lightning_manual import ManualARSAMModule

    return ManualARSAMModule(small_classifier())


@pytest.mark.parametrize("kind", ["automatic", "manual"])
def test_lightning_callback_logs_the_stats_through_the_loggers(kind: str, tmp_path: Any) -> None:
    from arsam.core.integrations.lightning_trainer import TwoPassStatsCallback

    logger = recording_logger()
    trainer = fit_lightning(
        lightning_module(kind),
        fixed_batches(STEPS),
        STEPS,
        tmp_path,
        logger=logger,
        log_every_n_steps=EVERY,
        callbacks=[TwoPassStatsCallback()],
    )
    optimizer = trainer.optimizers[0]
    assert exercised_both_steps(optimizer, STEPS)
    ours = [(step, m) for step, m in logger.records if "two_pass/sam_fraction" in m]
    assert [step for step, _ in ours] == [4, 8, 12]
    assert [m["two_pass/steps"] for _, m in ours] == [4.0, 8.0, 12.0]
    assert all(all(key in m for key in KEYS) for _, m in ours)
    assert ours[-1][1] == loggable_stats(optimizer)


def test_lightning_gradient_clip_val_is_refused_before_any_step(tmp_path: Any) -> None:
    from arsam.core.integrations.lightning_trainer import TwoPassStatsCallback

    module = lightning_module("automatic")
    before = tensors_of(module.model)
    with pytest.raises(ValueError, match=r"gradient_clip_val=0.5.*max_grad_norm=0.5"):
        fit_lightning(
            module,
            fixed_batches(STEPS),
            STEPS,
            tmp_path,
            gradient_clip_val=0.5,
            callbacks=[TwoPassStatsCallback()],
        )
    assert all(torch.equal(a, b) for a, b in zip(before, tensors_of(module.model), strict=True))


def test_lightning_callback_without_a_two_pass_optimizer_says_what_to_do(tmp_path: Any) -> None:
    import lightning as L

    from arsam.core.integrations.lightning_trainer import TwoPassStatsCallback

    class SGDModule(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = small_classifier()

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.model.parameters(), lr=0.1)

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch
            return nn.functional.cross_entropy(self.model(x), y)

    with pytest.raises(TypeError, match=r"found no SAM/ARSAM optimizer .*\(SGD\)"):
        fit_lightning(
            SGDModule(), fixed_batches(2), 2, tmp_path, callbacks=[TwoPassStatsCallback()]
        )
