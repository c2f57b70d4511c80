"""Fixtures for the tool tests."""

from __future__ import annotations

from pathlib import Path

import pytest

import arsam.core.mmengine_adapter  # registers SAM/ARSAM and the wrapper
import arsam.tasks.pose  # noqa: F401  (applies the compatibility shims, registers MMPose)
from arsam.tasks.pose.synthetic_coco import generate
from tests.pose.helpers import DEMO_CONFIG, SMALL_ARSAM, synthetic_overrides, write_config


@pytest.fixture(scope="session")
def synthetic_coco(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated COCO keypoint dataset: 12 training and 6 validation images."""
    root = tmp_path_factory.mktemp("coco_synthetic")
    generate(str(root), train=12, val=6, seed=0)
    return root


@pytest.fixture(scope="session")
def pose_config(synthetic_coco: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic HRNet config with ARSAM on the generated data: 3 iterations an epoch."""
    entries = synthetic_overrides(str(synthetic_coco), epochs=1, val_interval=1)
    path = tmp_path_factory.mktemp("pose_config") / "config.py"
    return write_config(path, DEMO_CONFIG, optim_wrapper=SMALL_ARSAM, **entries)
