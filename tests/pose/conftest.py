"""Fixtures for the pose tests."""

from __future__ import annotations

from pathlib import Path

import pytest

import arsam.core.mmengine_adapter  # registers SAM/ARSAM and the wrapper
import arsam.tasks.pose  # noqa: F401  (applies the compatibility shims, registers MMPose)
from arsam.tasks.pose.synthetic_coco import generate


@pytest.fixture(scope="session")
def synthetic_coco(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated COCO keypoint dataset: 12 training and 6 validation images."""
    root = tmp_path_factory.mktemp("coco_synthetic")
    generate(str(root), train=12, val=6, seed=0)
    return root
