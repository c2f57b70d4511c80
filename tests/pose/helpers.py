"""Shared pieces of the pose tests: tiny configs on generated data, run through tools/train.py."""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import os.path as osp
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs" / "pose"
DEMO_CONFIG = CONFIGS / "hrnet_arsam_synthetic.py"
SIMPLEBASELINE = (
    "mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py"
)
CODEC = dict(type="MSRAHeatmap", input_size=(64, 96), heatmap_size=(16, 24), sigma=1.5)
# No random augmentation, so an interrupted run and an uninterrupted one see identical batches.
FIXED_TRAIN_PIPELINE = [
    dict(type="LoadImage"),
    dict(type="GetBBoxCenterScale"),
    dict(type="TopdownAffine", input_size=CODEC["input_size"]),
    dict(type="GenerateTarget", encoder=CODEC),
    dict(type="PackPoseInputs"),
]
VAL_PIPELINE = [
    dict(type="LoadImage"),
    dict(type="GetBBoxCenterScale"),
    dict(type="TopdownAffine", input_size=CODEC["input_size"]),
    dict(type="PackPoseInputs"),
]
# ARSAM, the horizon-aware schedule: it plans warm-up, window and budget from the run's length.
SMALL_ARSAM = dict(
    _delete_=True,
    type="SAMOptimWrapper",
    constructor="SAMOptimWrapperConstructor",
    optimizer=dict(
        type="ARSAM",
        base_optimizer=dict(type="Adam", lr=2e-3),
        rho=0.05,
        # a few steps per run: half of them SAM steps (the default 0.10 would round to none)
        horizon_options=dict(budget=0.5),
    ),
)
# ARSAMPaper, the paper's schedule, sized for a few steps per epoch.
SMALL_ARSAM_PAPER = dict(
    _delete_=True,
    type="SAMOptimWrapper",
    constructor="SAMOptimWrapperConstructor",
    optimizer=dict(
        type="ARSAMPaper",
        base_optimizer=dict(type="Adam", lr=2e-3),
        rho=0.05,
        warmup_epochs=1,
        window=4,
        var_blocks=2,
    ),
)
SMALL_SAM = dict(
    _delete_=True,
    type="SAMOptimWrapper",
    constructor="SAMOptimWrapperConstructor",
    optimizer=dict(type="SAM", base_optimizer=dict(type="Adam", lr=2e-3), rho=0.05),
)


_RUN_IDS = itertools.count()


def synthetic_overrides(root: str, epochs: int, val_interval: int) -> dict[str, Any]:
    """Config entries pointing a pose config at generated data, sized for a one-core test."""
    root = osp.join(root, "")
    ann = root + "annotations/person_keypoints_val2017.json"
    loader = dict(batch_size=4, num_workers=0, persistent_workers=False)
    val_dataset = dict(data_root=root, bbox_file=None, pipeline=VAL_PIPELINE)
    return dict(
        train_dataloader=dict(loader, dataset=dict(data_root=root, pipeline=FIXED_TRAIN_PIPELINE)),
        val_dataloader=dict(loader, batch_size=8, dataset=val_dataset),
        test_dataloader=dict(loader, batch_size=8, dataset=val_dataset),
        val_evaluator=dict(ann_file=ann),
        test_evaluator=dict(ann_file=ann),
        train_cfg=dict(max_epochs=epochs, val_interval=val_interval),
        default_hooks=dict(logger=dict(interval=1), checkpoint=dict(interval=1)),
        log_processor=dict(window_size=1),
        randomness=dict(seed=0),
        log_level="WARNING",
    )


def reduced_simplebaseline() -> dict[str, Any]:
    """MMPose's SimpleBaseline with a narrow ResNet-18 and a light deconvolution head."""
    return dict(
        model=dict(
            backbone=dict(depth=18, base_channels=16, stem_channels=16, init_cfg=None),
            head=dict(
                in_channels=128,
                deconv_out_channels=(16, 16, 16),
                deconv_kernel_sizes=(4, 4, 4),
                decoder=CODEC,
            ),
        )
    )


def write_config(path: Path, base: str | Path, **entries: Any) -> Path:
    """Write a config file inheriting ``base`` and setting ``entries``; return its path."""
    lines = [f"_base_ = {str(base)!r}"]
    lines += [f"{key} = {value!r}" for key, value in entries.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def load_train_tool() -> Any:
    """tools/train.py as a module (it is a script, not part of a package)."""
    spec = importlib.util.spec_from_file_location(
        "pose_test_train_tool", REPO / "tools" / "train.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train(config: Path, work_dir: Path, *options: str, resume: Path | None = None) -> None:
    """Run tools/train.py's command line in this process, with ``--cfg-options`` ``options``.

    Several Runners in one process share MMEngine's named singletons (visualizer, message hub,
    logger), so each run gets its own experiment and visualizer name.
    """
    name = f"{work_dir.name}_{next(_RUN_IDS)}"
    argv = [str(config), "--work-dir", str(work_dir)]
    argv += ["--resume", str(resume)] if resume else []
    argv += ["--cfg-options", f"experiment_name={name}", f"visualizer.name={name}", *options]
    load_train_tool().run(argv)


def checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint written by the Runner, loaded with the project's safe loader."""
    return torch.load(path, map_location="cpu")


def assert_same(actual: Any, expected: Any, where: str = "") -> None:
    """Nested dicts/lists equal: tensors close (float32 tolerance), everything else equal."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), where
        for key in expected:
            assert_same(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list | tuple):
        assert isinstance(actual, list | tuple) and len(actual) == len(expected), where
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same(a, e, f"{where}[{index}]")
    elif isinstance(expected, torch.Tensor):
        torch.testing.assert_close(actual, expected, msg=lambda m: f"{where}: {m}")
    elif isinstance(expected, float) and math.isnan(expected):
        assert isinstance(actual, float) and math.isnan(actual), f"{where}: {actual!r} != nan"
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def logged_records(work_dir: Path) -> list[dict[str, Any]]:
    """Every record of every scalars.json under ``work_dir``, in start order."""
    records = []
    for path in sorted(work_dir.glob("*/vis_data/scalars.json")):
        records += [json.loads(line) for line in path.read_text().splitlines() if line]
    return records
