"""arsam.tasks.pose.preflight: clear errors for missing data and unreachable pretrained weights."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from arsam.tasks.pose import prerequisites as pf
from arsam.tools.cli import UserError
from tests.pose.helpers import CONFIGS, DEMO_CONFIG, load_train_tool

HRNET_URL = "https://download.openmmlab.com/mmpose/pretrain_models/hrnet_w32-36af842e.pth"


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty working directory, an empty torch hub cache and no network."""
    monkeypatch.chdir(tmp_path)
    hub = tmp_path / "hub"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    monkeypatch.setattr(pf, "url_unreachable", lambda url, timeout=3.0: "offline")
    return hub


def message(cfg: Config) -> str:
    """The preflight error's text."""
    with pytest.raises(FileNotFoundError) as error:
        pf.preflight(cfg)
    return str(error.value)


def test_missing_coco_and_weights_explained_in_one_paragraph(offline: Path) -> None:
    text = message(Config.fromfile(CONFIGS / "hrnet_arsam.py"))
    assert "\n" not in text
    for path in (
        "data/coco/annotations/person_keypoints_train2017.json",
        "data/coco/val2017,",
        "data/coco/person_detection_results/COCO_val2017_detections_AP_H_56_person.json",
    ):
        assert path in text
    assert "cocodataset.org" in text and "python -m arsam.tasks.pose.synthetic_coco" in text
    assert HRNET_URL in text and str(offline / "checkpoints" / "hrnet_w32-36af842e.pth") in text
    assert "--cfg-options model.backbone.init_cfg=None" in text


def test_mpii_layout_is_explained(offline: Path) -> None:
    text = message(Config.fromfile(CONFIGS / "simcc_res50_mpii_arsam.py"))
    assert "data/mpii/annotations/mpii_gt_val.mat" in text and "MPII goes under" in text
    assert "torchvision://resnet50 (model.backbone.init_cfg)" in text
    assert "--cfg-options model.backbone.init_cfg=None" in text


def test_cached_or_reachable_weights_pass(offline: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = Config.fromfile(CONFIGS / "hrnet_arsam.py")
    assert pf.missing_checkpoints(cfg)
    cached = offline / "checkpoints" / "hrnet_w32-36af842e.pth"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"")
    assert pf.missing_checkpoints(cfg) == []
    cached.unlink()
    monkeypatch.setattr(pf, "url_unreachable", lambda url, timeout=3.0: None)
    assert pf.missing_checkpoints(cfg) == []


def test_missing_local_checkpoint(offline: Path) -> None:
    cfg = Config(dict(model=dict(head=dict(init_cfg=dict(type="Pretrained", checkpoint="x.pth")))))
    text = message(cfg)
    assert "x.pth (model.head.init_cfg) cannot be read" in text
    assert "--cfg-options model.head.init_cfg=None" in text


def test_generated_data_without_pretraining_passes(synthetic_coco: Path) -> None:
    cfg = Config.fromfile(DEMO_CONFIG)
    root = f"{synthetic_coco}/"
    for section in ("train_dataloader", "val_dataloader", "test_dataloader"):
        cfg[section].dataset.data_root = root
    for section in ("val_evaluator", "test_evaluator"):
        cfg[section].ann_file = root + "annotations/person_keypoints_val2017.json"
    pf.preflight(cfg)


def test_test_stage_needs_only_the_test_split(offline: Path) -> None:
    cfg = Config.fromfile(CONFIGS / "hrnet_arsam.py")
    text = message_for_stage(cfg, "test")
    missing = text.split(" (paths relative to")[0]
    assert "val2017.json" in missing and "train2017" not in missing
    assert "Pretrained" not in text and "test_dataloader.dataset.data_root" in text
    with pytest.raises(ValueError, match="stage"):
        pf.preflight(cfg, "deploy")


def message_for_stage(cfg: Config, stage: str) -> str:
    """The preflight error's text for one stage."""
    with pytest.raises(FileNotFoundError) as error:
        pf.preflight(cfg, stage)
    return str(error.value)


def test_torchvision_checkpoints_resolve_to_their_url() -> None:
    url = pf.resolve_checkpoint_url("torchvision://resnet50")
    assert url.startswith("https://") and url.endswith(".pth")
    assert pf.resolve_checkpoint_url("work_dirs/x.pth") is None


def test_url_reachability_is_a_tcp_connect() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert pf.url_unreachable(f"http://127.0.0.1:{port}/w.pth") is None
    assert "unreachable" in pf.url_unreachable(f"http://127.0.0.1:{port}/w.pth", timeout=1.0)


def test_command_line_reports_each_config(offline: Path, capsys: pytest.CaptureFixture) -> None:
    assert pf.main([str(CONFIGS / "hrnet_mpii_sam.py")]) == 2
    assert "Pose data not found: data/mpii/annotations/mpii_train.json" in capsys.readouterr().err


def test_train_tool_stops_before_building_anything(offline: Path) -> None:
    with pytest.raises(UserError, match="Pose data not found"):
        load_train_tool().run([str(CONFIGS / "hrnet_arsam.py"), "--work-dir", "work"])
    assert not (offline.parent / "work").exists()
