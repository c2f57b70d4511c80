"""The classification configs: structure of all variants and short Runner trainings on digits."""

import copy
import itertools
import os

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import arsam.tasks.classification  # noqa: F401
from arsam.tasks.classification import TOP1_KEY, make_fake_cifar
from arsam.tools.analysis_tools.collect_classification import collect, summarize_run

CONFIG_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "configs", "classification")
MODELS = ("resnet18", "wrn28_10", "pyramidnet110")
DATASETS = ("cifar10", "cifar100")
OPTIMIZERS = ("sgd", "sam", "arsam", "arsam_paper")
# The optimizer each variant builds, and the schedule arguments its config gives: ARSAM (the
# horizon-aware schedule) takes none, ARSAMPaper (the paper's) a 3-epoch warm-up on CIFAR.
TWO_PASS = (
    ("sam", "SAM", {}),
    ("arsam", "ARSAM", {}),
    ("arsam_paper", "ARSAMPaper", {"warmup_epochs": 3}),
)
BACKBONES = {"resnet18": "CifarResNet", "wrn28_10": "WideResNet", "pyramidnet110": "PyramidNet"}
IMPORTS = ["arsam.core.mmengine_adapter", "arsam.tasks.classification"]


def load(name: str) -> Config:
    """A config by name, without importing its custom modules."""
    return Config.fromfile(os.path.join(CONFIG_DIR, f"{name}.py"), import_custom_modules=False)


def without_optimizer(cfg: Config) -> dict:
    """The config as a dict minus ``optim_wrapper``."""
    data = copy.deepcopy(cfg.to_dict())
    data.pop("optim_wrapper")
    return data


@pytest.mark.parametrize(("model", "dataset"), itertools.product(MODELS, DATASETS))
def test_cifar_variants_differ_only_in_optimizer(model, dataset):
    cfgs = {opt: load(f"{model}_{dataset}_{opt}") for opt in OPTIMIZERS}
    sgd = cfgs["sgd"]
    assert sgd.custom_imports == dict(imports=IMPORTS, allow_failed_imports=False)
    assert sgd.model.backbone.type == BACKBONES[model]
    assert sgd.model.backbone.num_classes == (100 if dataset == "cifar100" else 10)
    assert sgd.train_dataloader.dataset.data_root == f"data/{dataset}"
    assert sgd.train_dataloader.batch_size == 128 and sgd.train_cfg.max_epochs == 200
    assert sgd.default_hooks.checkpoint.save_best == TOP1_KEY
    assert [t["type"] for t in sgd.train_dataloader.dataset.pipeline] == [
        "RandomPadCrop",
        "RandomHorizontalFlip",
        "Cutout",
        "PackClsInputs",
    ]
    for opt in OPTIMIZERS[1:]:
        assert without_optimizer(cfgs[opt]) == without_optimizer(sgd), opt

    base = dict(type="SGD", lr=0.05, momentum=0.9, weight_decay=1e-3)
    assert sgd.optim_wrapper == dict(type="OptimWrapper", optimizer=base)
    for opt, kind, extra in TWO_PASS:
        wrapper = cfgs[opt].optim_wrapper
        assert wrapper.type == "SAMOptimWrapper"
        assert wrapper.constructor == "SAMOptimWrapperConstructor"
        assert wrapper.optimizer == dict(type=kind, base_optimizer=base, rho=0.05, **extra)


def test_digits_variants():
    cfgs = {opt: load(f"digits_{opt}") for opt in OPTIMIZERS}
    assert cfgs["sgd"].custom_imports.imports == IMPORTS
    for opt in OPTIMIZERS[1:]:
        assert without_optimizer(cfgs[opt]) == without_optimizer(cfgs["sgd"]), opt
    sgd = cfgs["sgd"].optim_wrapper.optimizer
    for opt, kind, _ in TWO_PASS:
        optimizer = cfgs[opt].optim_wrapper.optimizer
        assert (optimizer.type, optimizer.base_optimizer, optimizer.rho) == (kind, sgd, 0.05)
    # ARSAM plans its own schedule from the run's length; digits' paper settings are on
    # the paper variant only: one warm-up epoch of 21 steps and a 10-step window.
    assert set(cfgs["arsam"].optim_wrapper.optimizer) == {"type", "base_optimizer", "rho"}
    paper = cfgs["arsam_paper"].optim_wrapper.optimizer
    assert (paper.warmup_epochs, paper.window) == (1, 10)


def _train_digits(name: str, work_dir: str, batch_size: int = 700) -> Runner:
    """One epoch (two iterations at batch 700) and one validation of a digits config."""
    cfg = load(name)
    cfg.merge_from_dict(
        {
            "train_cfg.max_epochs": 1,
            "train_dataloader.batch_size": batch_size,
            "default_hooks.logger.interval": 1,
        }
    )
    cfg.work_dir = work_dir
    cfg.experiment_name = f"{name}_{os.path.basename(work_dir)}"
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def test_digits_sgd_runner_two_iterations(tmp_path):
    work_dir = str(tmp_path / "digits_sgd")
    runner = _train_digits("digits_sgd", work_dir)
    assert runner.iter == 2 and runner.epoch == 1
    files = os.listdir(work_dir)
    assert "epoch_1.pth" in files
    assert any(f.startswith("best_accuracy_top1") for f in files)

    row = summarize_run(work_dir)
    assert row["optimizer"] == "sgd" and row["dataset"] == "digits"
    assert 0.0 <= row["top1_best"] <= 100.0 and row["top1_last"] == row["top1_best"]
    assert row["images_per_s"] > 0 and row["sam_fraction"] is None
    assert "| digits_sgd | digits | digits | sgd |" in collect([str(tmp_path)])


@pytest.mark.parametrize(
    ("optimizer", "batch_size", "iterations", "sam_fraction"),
    [
        # Every step of a one-epoch run is a SAM step (ARSAMPaper is still in its one-epoch
        # warm-up).
        ("sam", 700, 2, 1.0),
        ("arsam_paper", 700, 2, 1.0),
        # ARSAM spends its budget, a tenth of the run's steps: one SAM step in ten.
        ("arsam", 140, 10, 0.1),
        # the peers through the same wrapper: Momentum-SAM one pass, ESAM two on every step
        ("momentum_sam", 700, 2, 0.0),
        ("esam", 700, 2, 1.0),
    ],
)
def test_digits_two_pass_runner_trains_one_epoch(
    tmp_path, optimizer, batch_size, iterations, sam_fraction
):
    name = f"digits_{optimizer}"
    work_dir = str(tmp_path / name)
    runner = _train_digits(name, work_dir, batch_size)
    assert runner.iter == iterations
    row = summarize_run(work_dir)
    assert row["optimizer"] == optimizer and row["top1_last"] is not None
    assert row["sam_fraction"] == pytest.approx(sam_fraction)
    assert row["grad_evals"] == pytest.approx(iterations * (1 + sam_fraction))


def test_cifar_config_trains_on_fake_cifar(tmp_path):
    make_fake_cifar(str(tmp_path / "data"), num_per_split=20)
    cfg = load("resnet18_cifar10_sgd")
    loader_options = {"num_workers": 0, "persistent_workers": False, "batch_size": 50}
    dataset_options = {"data_root": str(tmp_path / "data"), "verify_checksums": False}
    for loader in ("train_dataloader", "val_dataloader"):
        cfg.merge_from_dict({f"{loader}.{k}": v for k, v in loader_options.items()})
        cfg.merge_from_dict({f"{loader}.dataset.{k}": v for k, v in dataset_options.items()})
    cfg.merge_from_dict(
        {
            "model.backbone.base_width": 4,
            "model.backbone.blocks": (1, 1, 1, 1),
            "train_cfg.max_epochs": 1,
            "test_dataloader": None,
            "test_cfg": None,
            "test_evaluator": None,
        }
    )
    cfg.work_dir = str(tmp_path / "resnet18_cifar10_sgd")
    cfg.experiment_name = f"resnet18_cifar10_sgd_{tmp_path.name}"
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    assert summarize_run(cfg.work_dir)["top1_last"] is not None
