"""The Hugging Face ``Trainer`` recipe of docs/recipes.md, with transformers and accelerate.

``create_optimizer`` builds ARSAM (``total_steps`` from the Trainer's own max_steps) and
gives the Trainer's loop a stand-in whose ``step()`` does nothing; ``training_step`` runs
the first pass, and the second one on the steps ARSAM asks for, through the Trainer's own
``training_step``. The run (a tiny BERT built from its config, no download) must equal the
plain two-call loop over the batches the Trainer fed, with the same linear LR schedule.
"""

from __future__ import annotations

from typing import Any

import accelerate  # noqa: F401  (the Trainer needs it; pinned in requirements.txt)
import pytest
import torch
import transformers
from torch import Tensor, nn

from arsam.core import ARSAM, TwoPassOptimizer
from tests.integrations.helpers import assert_same_model, exercised_both_steps

STEPS = 12


@pytest.fixture(autouse=True)
def _single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """A single-process run: no launcher variables left in the environment by anything else."""
    for name in ("LOCAL_RANK", "RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)


class StepMadeInTrainingStep(torch.optim.Optimizer):
    """What the Trainer's loop steps: nothing, since training_step already made the update."""

    def __init__(self, two_pass: TwoPassOptimizer) -> None:
        self.two_pass = two_pass
        self.defaults = two_pass.defaults

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """ARSAM's groups, as they are now (LR schedulers set their "lr")."""
        return self.two_pass.param_groups

    @property
    def state(self) -> Any:
        """ARSAM's per-parameter state."""
        return self.two_pass.state

    def step(self, closure: Any = None) -> None:
        """Nothing to do: ARSAM updated the weights in training_step."""

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients."""
        self.two_pass.zero_grad(set_to_none)

    def state_dict(self) -> dict[str, Any]:
        """ARSAM's state (written to the Trainer's checkpoints)."""
        return self.two_pass.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore ARSAM's state."""
        self.two_pass.load_state_dict(state_dict)


class ARSAMTrainer(transformers.Trainer):
    """A Trainer whose every optimizer step is an ARSAM step."""

    def create_optimizer(self, model: nn.Module | None = None) -> torch.optim.Optimizer:
        """ARSAM around AdamW with the Trainer's settings; the loop gets the stand-in."""
        if self.optimizer is None:
            args = self.args
            if args.gradient_accumulation_steps != 1 or args.fp16:
                raise ValueError(
                    "ARSAMTrainer perturbs from one minibatch's gradient and unscales once per "
                    "update: use gradient_accumulation_steps=1, and bf16=True rather than fp16"
                )
            model = self.model if model is None else model
            decay = set(self.get_decay_parameter_names(model))
            named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
            groups = [
                {"params": [p for n, p in named if n in decay], "weight_decay": args.weight_decay},
                {"params": [p for n, p in named if n not in decay], "weight_decay": 0.0},
            ]
            self.two_pass = ARSAM(
                groups,
                torch.optim.AdamW,
                rho=0.05,
                total_steps=self.state.max_steps,  # the Trainer's count of optimizer steps
                lr=args.learning_rate,
                betas=(args.adam_beta1, args.adam_beta2),
                max_grad_norm=args.max_grad_norm or None,  # clips the gradient ARSAM uses
            )
            self.two_pass.freeze_statistics_of(model)
            self.optimizer = StepMadeInTrainingStep(self.two_pass)
        return self.optimizer

    def training_step(
        self, model: nn.Module, inputs: dict[str, Any], num_items_in_batch: Any = None
    ) -> Tensor:
        """Pass 1 at w; on SAM steps pass 2 at w + e; ARSAM updates the weights."""
        loss = super().training_step(model, inputs, num_items_in_batch)
        if self.two_pass.first_step():
            super().training_step(model, inputs, num_items_in_batch)
            self.two_pass.second_step()
        return loss


class RecordingTrainer(ARSAMTrainer):
    """The recipe, plus a record of the batches it trained on (for the reference run)."""

    def training_step(
        self, model: nn.Module, inputs: dict[str, Any], num_items_in_batch: Any = None
    ) -> Tensor:
        self.seen.append(({k: v.clone() for k, v in inputs.items()}, num_items_in_batch))
        return super().training_step(model, inputs, num_items_in_batch)


def tiny_bert() -> nn.Module:
    """A one-layer BERT classifier from its config, no dropout, identical for every call."""
    config = transformers.BertConfig(
        vocab_size=40,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        num_labels=3,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    torch.manual_seed(0)
    return transformers.BertForSequenceClassification(config)


def examples(count: int) -> list[dict[str, Any]]:
    """Token sequences with labels, as a Trainer's train_dataset."""
    generator = torch.Generator().manual_seed(3)
    return [
        {
            "input_ids": torch.randint(0, 40, (8,), generator=generator),
            "labels": int(torch.randint(0, 3, (), generator=generator)),
        }
        for _ in range(count)
    ]


def trained(tmp_path, **options: Any) -> RecordingTrainer:
    """The recipe's Trainer after STEPS steps on the CPU."""
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=STEPS,
        per_device_train_batch_size=4,
        learning_rate=1e-2,
        weight_decay=0.01,
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        **options,
    )
    trainer = RecordingTrainer(model=tiny_bert(), args=args, train_dataset=examples(4 * STEPS))
    trainer.seen = []
    trainer.train()
    return trainer


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
def test_trainer_steps_are_the_two_call_loop(tmp_path) -> None:
    trainer = trained(tmp_path)
    optimizer = trainer.two_pass
    assert trainer.state.global_step == STEPS
    assert optimizer.rule.schedule.total_steps == STEPS
    assert exercised_both_steps(optimizer, STEPS)

    reference = tiny_bert()
    decay = set(trainer.get_decay_parameter_names(reference))
    named = list(reference.named_parameters())
    expected = ARSAM(
        [
            {"params": [p for n, p in named if n in decay], "weight_decay": 0.01},
            {"params": [p for n, p in named if n not in decay], "weight_decay": 0.0},
        ],
        torch.optim.AdamW,
        rho=0.05,
        total_steps=STEPS,
        lr=1e-2,
        max_grad_norm=1.0,
    )
    schedule = transformers.get_scheduler("linear", expected, 0, STEPS)
    reference.train()
    for inputs, num_items_in_batch in trainer.seen:
        expected.zero_grad()
        reference(**inputs, num_items_in_batch=num_items_in_batch).loss.backward()
        if expected.first_step():
            reference(**inputs, num_items_in_batch=num_items_in_batch).loss.backward()
            expected.second_step()
        schedule.step()
    assert optimizer.stats == expected.stats
    assert_same_model(trainer.model, reference)


def test_bf16_trainer_runs_the_schedule(tmp_path) -> None:
    trainer = trained(tmp_path, bf16=True)
    assert trainer.state.global_step == STEPS
    assert exercised_both_steps(trainer.two_pass, STEPS)


@pytest.mark.parametrize("option", [{"gradient_accumulation_steps": 2}, {"fp16": True}])
def test_accumulation_and_fp16_are_refused(option: dict[str, Any], tmp_path) -> None:
    with pytest.raises(ValueError, match="gradient_accumulation_steps=1, and bf16=True"):
        trained(tmp_path, **option)
