"""The evidence workloads, trainer and suite runner on tiny runs (seconds)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from mmengine.registry import DATASETS

from arsam.core import horizon_schedule
from arsam.tasks.classification.datasets.procedural import ProceduralDataset, procedural_images
from arsam.tasks.evidence import (
    DataSpec,
    OptimizerSpec,
    Workload,
    build_optimizer,
    check_names,
    optimizer_class,
    read_records,
    run_suite,
    suite_optimizers,
    train_one,
    trainer,
)
from arsam.tasks.evidence.trainer import (
    batch_indices,
    denormals_flushed,
    epoch_batches,
    run_settings,
)
from arsam.tasks.evidence.workloads import WORKLOADS, Horizon
from arsam.tools.benchmarking.suite_report import markdown, summarize, verdict

STEPS = 40
TINY = Workload(
    name="tiny",
    data=DataSpec("digits", train_size=200, label_noise=0.2),
    model="mlp",
    model_kwargs={"hidden": 16},
    base="SGD",
    base_kwargs={"momentum": 0.9},
    lr=0.05,
    batch_size=16,
    rho=0.05,
    horizons={"tiny": STEPS},
)
TINY_CNN = dataclasses.replace(
    TINY,
    name="tiny_cnn",
    model="small_cnn",
    model_kwargs={"width": 4},
    base="Adam",
    base_kwargs={},
    lr=1e-3,
)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.mark.parametrize(
    ("optimizer", "passes"),
    [
        ("base", lambda stats: 1.0),
        ("SAM", lambda stats: 2.0),
        ("SAMK", lambda stats: 1.0 + -(-STEPS // 5) / STEPS),
        ("ARSAM", lambda stats: 1.0 + stats["sam_steps"] / STEPS),
        ("AESAM", lambda stats: 1.0 + stats["sam_steps"] / STEPS),
        ("RandomSAM", lambda stats: 1.0 + stats["sam_steps"] / STEPS),
    ],
)
def test_record_is_sane(optimizer: str, passes) -> None:
    record = train_one(TINY, optimizer, seed=0, horizon="tiny")
    assert 0.0 <= record["accuracy"] <= 1.0
    assert 0.0 <= record["train_accuracy"] <= 1.0
    assert record["steps"] == STEPS
    assert record["passes_per_step"] == pytest.approx(passes(record["stats"]))
    assert record["passes_per_step"] == pytest.approx(1.0 + record["sam_fraction"])
    assert record["wall_time_s"] > 0
    json.dumps(record)


def test_arsam_warm_up_is_a_fraction_of_the_run() -> None:
    spec = OptimizerSpec("warm", "ARSAMPaper", {"warmup_fraction": 0.25, "window": 10})
    record = train_one(TINY, spec, seed=0, horizon="tiny")
    assert record["optimizer_kwargs"]["warmup_steps"] == 10
    assert record["stats"]["sam_steps"] >= 10


@pytest.mark.parametrize("workload", [TINY, TINY_CNN])
def test_same_seed_same_record(workload: Workload) -> None:
    first = train_one(workload, "ARSAM", seed=3, horizon="tiny")
    second = train_one(workload, "ARSAM", seed=3, horizon="tiny")
    for key in ("accuracy", "train_accuracy", "final_loss", "passes_per_step", "stats"):
        assert first[key] == second[key]
    other = train_one(workload, "ARSAM", seed=4, horizon="tiny")
    assert other["final_loss"] != first["final_loss"]


def test_a_horizon_may_swap_in_a_smaller_model() -> None:
    workload = dataclasses.replace(
        TINY_CNN, horizons={"tiny": Horizon(STEPS, "mlp", {"hidden": 8, "batch_norm": True})}
    )
    record = train_one(workload, "SAM", seed=0, horizon="tiny")
    assert record["model"] == "mlp" and record["steps"] == STEPS
    assert record["passes_per_step"] == 2.0


def test_a_horizon_with_its_own_radius_trains_at_it() -> None:
    workload = dataclasses.replace(TINY, horizons={"tiny": STEPS, "wide": Horizon(STEPS, rho=0.2)})
    assert (workload.rho_at("tiny"), workload.rho_at("wide")) == (TINY.rho, 0.2)
    own = train_one(workload, "SAM", seed=0, horizon="tiny")
    wide = train_one(workload, "SAM", seed=0, horizon="wide")
    assert (own["optimizer_kwargs"]["rho"], wide["optimizer_kwargs"]["rho"]) == (TINY.rho, 0.2)
    assert wide["final_loss"] != own["final_loss"]
    assert (
        train_one(workload, "base", seed=0, horizon="wide")["optimizer_kwargs"].get("rho") is None
    )


def subnormals_survive() -> bool:
    """Whether a subnormal float32 survives arithmetic (not flushed to zero)."""
    return bool((torch.tensor([1e-39]) * 1.0).item() != 0.0)


def test_a_run_flushes_subnormals_when_its_workload_says_so(monkeypatch) -> None:
    assert subnormals_survive()
    with denormals_flushed(True):
        assert not subnormals_survive()
    assert subnormals_survive(), "torch's default is back after the block"
    seen = []

    def spy(flush: bool):
        seen.append(flush)
        return denormals_flushed(flush)

    monkeypatch.setattr(trainer, "denormals_flushed", spy)
    train_one(TINY, "SAM", seed=0, horizon="tiny")
    train_one(dataclasses.replace(TINY, flush_denormals=False), "SAM", seed=0, horizon="tiny")
    assert seen == [True, False] and subnormals_survive()


def test_suite_resumes_from_its_file(tmp_path) -> None:
    out = tmp_path / "records.jsonl"
    records = run_suite([TINY], ["base", "SAM"], [0, 1], ["tiny", "absent"], workers=1, out=out)
    assert len(records) == 4 == len(read_records(out))
    again = run_suite([TINY], ["base", "SAM"], [0, 1], ["tiny"], workers=1, out=out)
    assert again == records and len(read_records(out)) == 4
    changed = dataclasses.replace(TINY, lr=0.01)
    rerun = run_suite([changed], ["base"], [0], ["tiny"], workers=1, out=out)
    assert rerun[0]["workload_config"]["lr"] == 0.01 and len(read_records(out)) == 5
    rows = summarize(records)
    assert {r["optimizer"] for r in rows} == {"base", "SAM"}
    assert "SAM - base" in markdown(records)


def test_editing_one_horizon_retrains_that_horizon_alone(tmp_path) -> None:
    out = tmp_path / "records.jsonl"
    two = dataclasses.replace(TINY, horizons={"short": 10, "long": 20})
    run_suite([two], ["base"], [0], ["short", "long"], workers=1, out=out)
    longer = dataclasses.replace(two, horizons={"short": 10, "long": 30})
    records = run_suite([longer], ["base"], [0], ["short", "long"], workers=1, out=out)
    assert [r["steps"] for r in records] == [10, 30] and len(read_records(out)) == 3


def test_suite_runs_in_worker_processes(tmp_path) -> None:
    out = tmp_path / "records.jsonl"
    records = run_suite([TINY], ["base", "SAM"], [0], ["tiny"], workers=2, out=out)
    assert [r["optimizer"] for r in records] == ["base", "SAM"]
    timings = {key: records[1][key] for key in ("wall_time_s", "cpu_time_s")}
    assert records[1] == train_one(TINY, "SAM", seed=0, horizon="tiny") | timings


def test_suite_reports_run_count_and_eta(tmp_path, capsys) -> None:
    run_suite(
        [TINY], ["base", "SAM"], [0], ["tiny"], workers=1, out=tmp_path / "r.jsonl", verbose=True
    )
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("2 runs to train, 0 already in")
    assert lines[1].startswith("[1/2] elapsed ") and "ETA " in lines[1]
    assert lines[2].startswith("[2/2] elapsed ") and lines[2].split("ETA ")[1].startswith("0:00")


def test_optimizer_lookup_and_arguments() -> None:
    assert optimizer_class("SAM").__name__ == "SAM"
    assert optimizer_class("torch.optim:SGD") is torch.optim.SGD
    with pytest.raises(ValueError, match="unknown optimizer"):
        optimizer_class("NoSuchSAM")

    def arguments(name: str, options: dict) -> dict:
        params = [torch.nn.Parameter(torch.zeros(2))]
        spec = OptimizerSpec(name, name, options)
        _, kwargs = build_optimizer(spec, params, "SGD", {"lr": 0.1}, 0.05, 100, 7)
        return {k: v for k, v in kwargs.items() if k != "rho"}

    assert arguments("AESAM", {}) == {"total_steps": 100}
    assert arguments("RandomSAM", {"seed": 1}) == {"total_steps": 100, "seed": 1}
    assert arguments("SAM", {}) == {}
    for old, new in (("SGD", "'base'"), ("ARSAM-paper", "'ARSAMPaper'")):
        with pytest.raises(ValueError, match=new):
            check_names([old])


def test_batches_are_epochs_without_replacement() -> None:
    indices = batch_indices(50, 8, 13, seed=0)
    assert indices.shape == (13, 8)
    assert sorted(indices[:6].flatten().tolist()) == sorted(set(indices[:6].flatten().tolist()))


def test_epoch_batches_equal_indexing_every_step() -> None:
    x, y = torch.randn(50, 1, 2, 2), torch.arange(50)
    indices = batch_indices(50, 8, 13, seed=3)
    batches = list(epoch_batches(x, y, indices, per_epoch=6))
    assert len(batches) == 13
    for step, (x_batch, y_batch) in enumerate(batches):
        assert torch.equal(x_batch, x[indices[step]]) and torch.equal(y_batch, y[indices[step]])
        assert x_batch.is_contiguous()


def test_default_workloads_are_declared_consistently() -> None:
    for workload in WORKLOADS.values():
        assert workload.base in ("SGD", "Adam")
        steps = [workload.steps(horizon) for horizon in workload.horizons]
        assert steps == sorted(steps)


def test_digits_split_matches_the_classification_task() -> None:
    from sklearn.datasets import load_digits

    from arsam.tasks.classification.datasets import digits_split
    from arsam.tasks.evidence.data import _stratified_split

    test = _stratified_split(load_digits().target, 0.25, seed=0)
    assert np.array_equal(np.flatnonzero(test), digits_split(0.25, 0)["test"])


def test_procedural_images_are_deterministic_and_balanced() -> None:
    images, labels = procedural_images(200, seed=5)
    again, _ = procedural_images(200, seed=5)
    test_images, _ = procedural_images(200, seed=5, split="test")
    assert images.shape == (200, 32, 32, 3) and images.dtype == np.uint8
    assert np.array_equal(images, again)
    assert not np.array_equal(images, test_images)
    assert np.bincount(labels).tolist() == [20] * 10
    assert images.std() > 20


def test_procedural_dataset_packs_samples() -> None:
    dataset = ProceduralDataset(split="test", num_images=30, num_classes=5)
    sample = dataset[0]
    assert len(dataset) == 30
    assert sample["inputs"].shape == (3, 32, 32) and sample["inputs"].dtype == torch.uint8
    assert 0 <= sample["labels"] < 5
    assert dataset.metainfo["classes"][:2] == ("disk", "ring")
    built = DATASETS.build(dict(type="ProceduralDataset", split="train", num_images=4))
    assert len(built) == 4 and built.images.shape == (4, 32, 32, 3)


def test_the_suite_runs_every_registered_method_and_both_arsam_schedules() -> None:
    from arsam.core.registry import TWO_PASS_METHODS

    assert suite_optimizers() == ("base", *TWO_PASS_METHODS)
    paper = train_one(TINY, "ARSAMPaper", seed=0, horizon="tiny")
    horizon = train_one(TINY, "ARSAM", seed=0, horizon="tiny")
    assert paper["optimizer_settings"]["class"] == "ARSAMPaper"
    assert horizon["passes_per_step"] == 1.10  # a budget of round(0.10 T) SAM steps
    assert "psf_trend" in horizon["stats"] and "psf_trend" not in paper["stats"]


def test_verdict_states_each_target() -> None:
    def row(name: str, mean: float, std: float, passes: float) -> dict:
        low, high = mean - std, mean + std
        return dict(
            optimizer=name,
            accuracy_mean=mean,
            accuracy_std=std,
            accuracy_min=low,
            accuracy_max=high,
            passes_per_step=passes,
        )

    block = [
        row("base", 80, 1, 1.0),
        row("SAM", 89, 1, 2.0),
        row("ARSAM", 88.5, 1, 1.10),
        row("MomentumSAM", 95, 0.5, 1.0),
        row("SAMK", 88, 1, 1.2),
    ]
    result = verdict(block)
    assert result["sam_matters"] and result["accuracy_met"] and result["passes_met"]
    assert result["beaten_by"] == ["MomentumSAM"] and not result["frontier_met"]


def test_a_changed_optimizer_default_retrains_that_optimizer_alone(tmp_path, monkeypatch) -> None:
    out = tmp_path / "records.jsonl"
    first = run_suite([TINY], ["base", "ARSAM"], [0], ["tiny"], workers=1, out=out)
    assert first[1]["optimizer_settings"]["reuse_component"] == "fading"
    monkeypatch.setitem(horizon_schedule.DEFAULTS, "reuse_component", "orthogonal")
    again = run_suite([TINY], ["base", "ARSAM"], [0], ["tiny"], workers=1, out=out)
    assert again[0] == first[0]  # the base optimizer's run is still current
    assert again[1]["optimizer_settings"]["reuse_component"] == "orthogonal"
    assert len(read_records(out)) == 3


def test_a_record_without_optimizer_settings_is_trained_again(tmp_path) -> None:
    out = tmp_path / "records.jsonl"
    (record,) = run_suite([TINY], ["SAM"], [0], ["tiny"], workers=1, out=out)
    del record["optimizer_settings"]
    out.write_text(json.dumps(record) + "\n")
    (again,) = run_suite([TINY], ["SAM"], [0], ["tiny"], workers=1, out=out)
    assert again["optimizer_settings"] == {"class": "SAM", "rho": TINY.rho, "rule": "SAM"}
    assert len(read_records(out)) == 2


@pytest.mark.parametrize("optimizer", suite_optimizers())
def test_a_fresh_record_is_current_for_every_optimizer(optimizer: str) -> None:
    record = json.loads(json.dumps(train_one(TINY, optimizer, seed=0, horizon="tiny")))
    assert record["optimizer_settings"] == run_settings(TINY, optimizer, 0, "tiny")


def test_esam_selects_data_and_counts_its_partial_second_pass() -> None:
    record = train_one(TINY, "ESAM", seed=0, horizon="tiny")
    # gamma = 0.5 of a batch of 16: the second pass uses 8 samples, counted as half a pass
    assert record["optimizer_kwargs"].get("gamma", 0.5) == 0.5
    assert record["passes_per_step"] == pytest.approx(1.5)
    assert record["stats"]["grad_evals"] == 2 * STEPS  # two backward calls per step
    assert record["stats"]["selection_forwards"] == STEPS
    momentum = train_one(TINY, "MomentumSAM", seed=0, horizon="tiny")
    assert momentum["passes_per_step"] == 1.0
