"""Fixtures for the MMEngine adapter tests."""

from __future__ import annotations

import os.path as osp

import pytest
from mmengine.config import Config

import arsam.core.mmengine_adapter  # noqa: F401  (registers the optimizers and the wrapper)
import tests.adapter.toy  # noqa: F401

CONFIG = osp.join(osp.dirname(__file__), "toy_config.py")


@pytest.fixture
def toy_cfg(tmp_path) -> Config:
    """The toy ARSAM config with its work_dir under tmp_path."""
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = str(tmp_path / "work")
    cfg.launcher = "none"
    return cfg
