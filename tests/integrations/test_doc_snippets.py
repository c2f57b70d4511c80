"""Every Python block of README.md and docs/recipes.md, run as written against the closure API.

The blocks are read from the documents here, so that a doc and its test cannot drift. A
block that is a fragment names what it assumes in a first comment line
(``# assumes: model, loss_fn, loader``); the test supplies those names and compares the
weights the block trained with ``opt.step(closure)`` on the same batches, bit for bit.
Config blocks (``optim_wrapper = dict(...)``) are checked by building the optim wrapper
from them with MMEngine. Shell blocks (installs, ``make demo``, tools commands) are not
run. Left out here, and why:

- the Lightning automatic-optimization block in ``precision="16-mixed"``: on a CPU
  Lightning turns that flag into bf16-mixed; the real fp16 plugin with a CPU GradScaler
  runs in tests/integrations/test_lightning_automatic.py.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from arsam.core import ARSAM
from tests.integrations.helpers import (
    Batch,
    arsam_for,
    assert_same_model,
    exercised_both_steps,
    fixed_batches,
    reference_run,
    small_classifier,
)

ROOT = Path(__file__).resolve().parents[2]
STEPS = 12
FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def python_blocks(document: str) -> list[str]:
    """The ```python blocks of ``document`` (a path under the repository root), dedented."""
    text = (ROOT / document).read_text()
    return [textwrap.dedent(body) for _, lang, body in FENCE.findall(text) if lang == "python"]


def block(document: str, *markers: str) -> str:
    """The one Python block of ``document`` that contains every string of ``markers``."""
    found = [code for code in python_blocks(document) if all(m in code for m in markers)]
    assert len(found) == 1, f"{document}: {len(found)} blocks contain {markers}"
    return found[0]


def assumed_names(code: str) -> set[str]:
    """The names a fragment's ``# assumes:`` line lists (empty for a whole program)."""
    match = re.search(r"^# assumes: (.*(?:\n# .*)*)", code, re.MULTILINE)
    if match is None:
        return set()
    text = re.sub(r"\n# ", " ", match.group(1))
    return set(re.findall(r"\b[A-Za-z_]\w*\b", text))


def run_block(code: str, **names: Any) -> dict[str, Any]:
    """Execute ``code`` with ``names`` supplied, after checking the doc declares each of them."""
    undeclared = set(names) - assumed_names(code)
    assert not undeclared, f"the block does not say it assumes {sorted(undeclared)}"
    namespace: dict[str, Any] = {"__name__": "doc_snippet", **names}
    exec(compile(code, "<doc block>", "exec"), namespace)
    return namespace


def readme_arsam(model: nn.Module) -> ARSAM:
    """ARSAM with the README's settings over one pass of STEPS batches."""
    return ARSAM(
        model.parameters(),
        torch.optim.SGD,
        rho=0.05,
        total_steps=STEPS,
        lr=0.05,
        momentum=0.9,
        weight_decay=1e-3,
    )


def closure_reference(
    make_optimizer: Callable[[nn.Module], ARSAM], data: list[Batch], **options: Any
) -> tuple[nn.Module, ARSAM]:
    """The model and optimizer after the closure API's run over ``data``."""
    model = small_classifier()
    optimizer = make_optimizer(model)
    optimizer.freeze_statistics_of(model)
    reference_run(model, optimizer, data, **options)
    return model, optimizer


def test_readme_has_the_blocks_this_test_runs() -> None:
    assert len(python_blocks("README.md")) == 4
    assert len(python_blocks("docs/recipes.md")) == 6


def test_readme_closure_loop(capsys: pytest.CaptureFixture[str]) -> None:
    data = fixed_batches(STEPS)
    model = small_classifier()
    code = block("README.md", "opt.step(closure)", "print(opt.stats)")
    ns = run_block(code, model=model, loss_fn=nn.functional.cross_entropy, loader=data, epochs=1)
    reference, _ = closure_reference(readme_arsam, data)
    assert exercised_both_steps(ns["opt"], STEPS)
    assert_same_model(model, reference)
    assert "sam_fraction" in capsys.readouterr().out


@pytest.mark.parametrize("clears", [True, False], ids=["as_written", "without_zero_grad"])
def test_readme_two_call_loop_is_the_closure_step(clears: bool) -> None:
    data = fixed_batches(STEPS)
    code = block("README.md", "opt.first_step()", "opt.second_step()")
    if not clears:  # what the block was before it cleared gradients: a different run
        code = code.replace("    opt.zero_grad()", "    pass")
    model = small_classifier()
    opt = readme_arsam(model)
    opt.freeze_statistics_of(model)
    run_block(code, model=model, loss_fn=nn.functional.cross_entropy, loader=data, opt=opt)
    reference, expected = closure_reference(readme_arsam, data)
    assert exercised_both_steps(opt, STEPS)
    if clears:
        assert_same_model(model, reference)
        assert opt.stats == expected.stats
    else:
        assert not all(
            torch.equal(a, b)
            for a, b in zip(model.parameters(), reference.parameters(), strict=True)
        )


def test_readme_grad_scaler_step_is_the_closure_step() -> None:
    data = fixed_batches(STEPS)
    code = block("README.md", "grad_scaler=scaler")
    model = small_classifier()
    opt = arsam_for(model, STEPS)
    opt.freeze_statistics_of(model)
    scaler = torch.amp.GradScaler("cpu")
    for x, y in data:

        def closure(x: Tensor = x, y: Tensor = y) -> Tensor:
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            scaler.scale(loss).backward()
            return loss

        run_block(code, opt=opt, scaler=scaler, closure=closure)
    reference, _ = closure_reference(
        lambda m: arsam_for(m, STEPS), data, scaler=torch.amp.GradScaler("cpu")
    )
    assert exercised_both_steps(opt, STEPS)
    assert_same_model(model, reference)


def built_wrapper(optim_wrapper: dict[str, Any], custom_imports: dict[str, Any]) -> Any:
    """The optim wrapper MMEngine builds from a config's two entries, for a small model."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.utils import import_modules_from_strings

    import_modules_from_strings(**custom_imports)
    return build_optim_wrapper(small_classifier(), optim_wrapper)


def test_readme_config_block_builds_the_wrapper() -> None:
    ns = run_block(block("README.md", "optim_wrapper = dict("))
    wrapper = built_wrapper(ns["optim_wrapper"], ns["custom_imports"])
    assert type(wrapper).__name__ == "SAMOptimWrapper"
    assert type(wrapper.optimizer) is ARSAM
    assert wrapper.optimizer.param_groups[0]["lr"] == 0.05


def test_recipes_mmpose_config_builds_the_wrapper(tmp_path: Path) -> None:
    code = block("docs/recipes.md", "_delete_=True")
    base = re.search(r'_base_ = \["\./(.+?)"\]', code)
    assert base is not None
    (tmp_path / base.group(1)).write_text(
        "optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=5e-4),"
        " clip_grad=dict(max_norm=35, norm_type=2))\n"
    )
    (tmp_path / "user_config.py").write_text(code)
    from mmengine.config import Config

    config = Config.fromfile(tmp_path / "user_config.py")
    wrapper = built_wrapper(config.optim_wrapper.to_dict(), config.custom_imports.to_dict())
    assert type(wrapper).__name__ == "SAMOptimWrapper"
    assert type(wrapper.optimizer) is ARSAM
    assert type(wrapper.optimizer.base_optimizer) is torch.optim.Adam


@pytest.mark.parametrize("amp", [True, False], ids=["grad_scaler", "no_scaler"])
def test_recipes_timm_loop_is_the_closure_step(amp: bool) -> None:
    from timm.scheduler import CosineLRScheduler
    from timm.utils import NativeScaler

    from tests.integrations.test_timm_loop import timm_model

    data = fixed_batches(STEPS, shape=(3, 32, 32))
    loss_fn = nn.CrossEntropyLoss()
    model = timm_model()
    args = SimpleNamespace(lr=0.1, momentum=0.9, weight_decay=0.0, clip_grad=None)
    ns = run_block(
        block("docs/recipes.md", "CosineLRScheduler(optimizer"),
        model=model,
        loss_fn=loss_fn,
        loader=data,
        num_epochs=1,
        updates_per_epoch=STEPS,
        args=args,
        loss_scaler=NativeScaler(device="cpu") if amp else None,
        amp_autocast=nullcontext,
        num_updates=0,
    )

    reference = timm_model()
    expected = arsam_for(reference, STEPS)
    expected.freeze_statistics_of(reference)
    schedule = CosineLRScheduler(expected, t_initial=STEPS, t_in_epochs=False)
    updates = iter(range(1, STEPS + 1))
    reference_run(
        reference,
        expected,
        data,
        scaler=torch.amp.GradScaler("cpu") if amp else None,
        after_step=lambda: schedule.step_update(num_updates=next(updates)),
        loss_fn=loss_fn,
    )
    assert ns["num_updates"] == STEPS
    assert exercised_both_steps(ns["optimizer"], STEPS)
    assert ns["optimizer"].stats == expected.stats
    assert_same_model(model, reference)


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
def test_recipes_hf_trainer_is_the_closure_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import transformers

    from tests.integrations.test_transformers_trainer import examples, tiny_bert

    for name in ("LOCAL_RANK", "RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    ns = run_block(block("docs/recipes.md", "class ARSAMTrainer(Trainer)"))
    seen: list[tuple[dict[str, Tensor], Any]] = []

    class RecordingTrainer(ns["ARSAMTrainer"]):  # type: ignore[misc, valid-type]
        """The recipe, plus a record of the batches it trained on."""

        def training_step(self, model: nn.Module, inputs: Any, num_items_in_batch: Any = None):
            seen.append(({k: v.clone() for k, v in inputs.items()}, num_items_in_batch))
            return super().training_step(model, inputs, num_items_in_batch)

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
    )
    trainer = RecordingTrainer(model=tiny_bert(), args=args, train_dataset=examples(4 * STEPS))
    trainer.train()

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
    for inputs, num_items_in_batch in seen:

        def closure(inputs: dict[str, Tensor] = inputs, n: Any = num_items_in_batch) -> Tensor:
            expected.zero_grad()
            loss = reference(**inputs, num_items_in_batch=n).loss
            loss.backward()
            return loss

        expected.step(closure)
        schedule.step()
    assert trainer.state.global_step == STEPS
    assert exercised_both_steps(trainer.two_pass, STEPS)
    assert trainer.two_pass.stats == expected.stats
    assert_same_model(trainer.model, reference)


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
def test_recipes_hf_trainer_with_the_stats_callback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import transformers

    from tests.integrations.test_transformers_trainer import examples, tiny_bert

    for name in ("LOCAL_RANK", "RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    recipe = run_block(block("docs/recipes.md", "class ARSAMTrainer(Trainer)"))["ARSAMTrainer"]

    def arguments(folder: str) -> Any:
        return transformers.TrainingArguments(
            output_dir=str(tmp_path / folder),
            max_steps=STEPS,
            per_device_train_batch_size=4,
            learning_rate=1e-2,
            use_cpu=True,
            report_to=[],
            save_strategy="no",
            logging_steps=4,
            disable_tqdm=True,
        )

    ns = run_block(
        block("docs/recipes.md", "add_stats_callback(trainer)"),
        ARSAMTrainer=recipe,
        model=tiny_bert(),
        training_args=arguments("with_callback"),
        train_dataset=examples(4 * STEPS),
    )
    trainer = ns["trainer"]
    history = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert [entry["two_pass/steps"] for entry in history] == [4.0, 8.0, 12.0]
    assert history[-1]["two_pass/sam_fraction"] == trainer.two_pass.stats["sam_fraction"]
    plain = recipe(model=tiny_bert(), args=arguments("plain"), train_dataset=examples(4 * STEPS))
    plain.train()
    assert exercised_both_steps(trainer.two_pass, STEPS)
    assert trainer.two_pass.stats == plain.two_pass.stats
    assert_same_model(trainer.model, plain.model)  # the callback only reports


def lightning_reference(
    data: list[Batch], autocast_dtype: torch.dtype | None, **settings: float
) -> nn.Module:
    """The closure API with a Lightning recipe's ARSAM ``settings``, over ``data``."""

    def make(model: nn.Module) -> ARSAM:
        return arsam_for(model, STEPS, **settings)

    reference, _ = closure_reference(make, data, autocast_dtype=autocast_dtype)
    return reference


def test_recipes_lightning_manual_is_the_closure_step(tmp_path: Path) -> None:
    from tests.integrations.helpers import fit_lightning

    data = fixed_batches(STEPS)
    ns = run_block(block("docs/recipes.md", "self.automatic_optimization = False"))
    module = ns["LitClassifier"](small_classifier())
    trainer = fit_lightning(module, data, STEPS, tmp_path)
    assert trainer.global_step == STEPS
    assert exercised_both_steps(trainer.optimizers[0], STEPS)
    assert_same_model(module.model, lightning_reference(data, None, weight_decay=5e-4))


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_recipes_lightning_automatic_is_the_closure_step(
    precision: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset

    class Classifier(L.LightningModule):
        """An ordinary automatic-optimization module: training_step returns the loss."""

        def __init__(self, model: nn.Module) -> None:
            super().__init__()
            self.model = model

        def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
            x, y = batch
            return nn.functional.cross_entropy(self.model(x), y)

    monkeypatch.chdir(tmp_path)  # the Trainer's default logs and checkpoints land here
    data = fixed_batches(STEPS)
    loader = DataLoader(
        TensorDataset(torch.cat([x for x, _ in data]), torch.cat([y for _, y in data])),
        batch_size=len(data[0][1]),
    )
    model = small_classifier()
    ns = run_block(
        block("docs/recipes.md", "second_pass=optimizer_closure"),
        L=L,
        torch=torch,
        ARSAM=ARSAM,
        Classifier=Classifier,
        model=model,
        loader=loader,
        max_steps=STEPS,
        precision=precision,
    )
    assert ns["trainer"].global_step == STEPS
    assert any(type(c).__name__ == "TwoPassStatsCallback" for c in ns["trainer"].callbacks)
    autocast = torch.bfloat16 if precision == "bf16-mixed" else None
    assert_same_model(model, lightning_reference(data, autocast))
