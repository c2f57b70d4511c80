"""The pose configs: MMPose's recipes, and variants that differ only in optim_wrapper."""

from __future__ import annotations

import pytest
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

from tests.pose.helpers import CONFIGS, DEMO_CONFIG

FAMILIES = ("hrnet", "hrnet_mpii", "simcc_res50_mpii")
VARIANTS = ("adam", "sam", "arsam", "arsam_paper")
# The optimizer each variant builds: ARSAM, the horizon-aware schedule; ARSAMPaper, the paper's.
KINDS = {"adam": "Adam", "sam": "SAM", "arsam": "ARSAM", "arsam_paper": "ARSAMPaper"}


def load(name: str) -> Config:
    """A config from configs/pose/."""
    return Config.fromfile(CONFIGS / f"{name}.py")


@pytest.mark.parametrize("family", FAMILIES)
def test_variants_differ_only_in_optim_wrapper(family: str) -> None:
    configs = {v: load(f"{family}_{v}").to_dict() for v in VARIANTS}
    wrappers = {v: c.pop("optim_wrapper") for v, c in configs.items()}
    # The optimizer fragment's own block (configs/pose/_base_/optimizers/) is what optim_wrapper is.
    assert all(c.pop("pose_optim_wrapper") == wrappers[v] for v, c in configs.items())
    assert configs["adam"] == configs["sam"] == configs["arsam"] == configs["arsam_paper"]
    assert wrappers["adam"] == dict(type="OptimWrapper", optimizer=dict(type="Adam", lr=5e-4))
    for variant in VARIANTS[1:]:
        wrapper = wrappers[variant]
        assert wrapper["type"] == "SAMOptimWrapper"
        assert wrapper["constructor"] == "SAMOptimWrapperConstructor"
        assert wrapper["optimizer"]["type"] == KINDS[variant]
        assert wrapper["optimizer"]["base_optimizer"] == dict(type="Adam", lr=5e-4)
    # ARSAM plans its own schedule from the run's length; the paper's warm-up is the paper's.
    assert set(wrappers["arsam"]["optimizer"]) == {"type", "base_optimizer", "rho"}
    assert wrappers["arsam_paper"]["optimizer"]["warmup_epochs"] == 3
    imports = configs["arsam"]["custom_imports"]["imports"]
    assert imports == ["arsam.core.mmengine_adapter", "arsam.tasks.pose"]


def test_hrnet_coco_is_mmposes_recipe() -> None:
    cfg = load("hrnet_arsam")
    assert cfg.train_cfg.max_epochs == 210 and cfg.auto_scale_lr.base_batch_size == 512
    warmup, steps = cfg.param_scheduler
    assert warmup.type == "LinearLR" and warmup.end == 500 and not warmup.by_epoch
    assert steps.type == "MultiStepLR" and steps.milestones == [170, 200] and steps.by_epoch
    assert cfg.train_dataloader.batch_size == 64
    assert cfg.model.backbone.type == "HRNet"
    assert cfg.model.backbone.extra.stage4.num_channels == (32, 64, 128, 256)
    assert cfg.model.backbone.init_cfg.checkpoint.startswith("https://download.openmmlab.com/")
    assert cfg.model.head.decoder.type == "MSRAHeatmap"
    assert cfg.model.head.decoder.input_size == (192, 256)
    assert cfg.model.test_cfg.flip_test
    assert cfg.val_evaluator.type == "CocoMetric"
    assert cfg.train_dataloader.dataset.data_root == "data/coco/"


def test_mpii_configs_use_pckh() -> None:
    hrnet, simcc = load("hrnet_mpii_arsam"), load("simcc_res50_mpii_arsam")
    for cfg in (hrnet, simcc):
        assert cfg.val_evaluator.type == "MpiiPCKAccuracy"
        assert cfg.train_dataloader.dataset.type == "MpiiDataset"
        assert cfg.train_dataloader.batch_size == 64
        assert cfg.train_dataloader.dataset.data_root == "data/mpii/"
    assert hrnet.model.head.decoder.input_size == (256, 256)
    assert simcc.model.head.type == "SimCCHead" and simcc.model.backbone.depth == 50


def test_demo_config_is_small_and_offline() -> None:
    cfg = Config.fromfile(DEMO_CONFIG)
    assert cfg.model.backbone.init_cfg is None
    assert cfg.model.backbone.extra.stage4.num_channels == (8, 16, 32, 64)
    assert all(size % 32 == 0 for size in cfg.model.head.decoder.input_size)
    assert cfg.train_dataloader.dataset.data_root == "data/coco_synthetic/"
    assert cfg.val_dataloader.dataset.bbox_file is None
    assert cfg.val_evaluator.ann_file.startswith("data/coco_synthetic/")
    assert cfg.optim_wrapper.optimizer.type == "ARSAM"
    assert "warmup_epochs" not in cfg.optim_wrapper.optimizer


@pytest.mark.parametrize("name", [f"{f}_{v}" for f in FAMILIES for v in VARIANTS])
def test_optim_wrapper_builds_around_the_full_model(name: str) -> None:
    cfg = load(name)
    init_default_scope("mmpose")
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    variant = next(v for v in sorted(VARIANTS, key=len, reverse=True) if name.endswith(f"_{v}"))
    assert type(wrapper.optimizer).__name__ == KINDS[variant]
    assert wrapper.get_lr()["lr"] == [5e-4]
