"""The generated COCO-format keypoint dataset, read by MMPose's real CocoDataset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS
from xtcocotools.coco import COCO

from arsam.tasks.pose.synthetic_coco import KEYPOINT_NAMES, generate, main
from tests.pose.helpers import CODEC, FIXED_TRAIN_PIPELINE


def load(root: Path, split: str) -> dict:
    """One split's annotation file."""
    return json.loads((root / "annotations" / f"person_keypoints_{split}2017.json").read_text())


def test_annotations_follow_coco(synthetic_coco: Path) -> None:
    data = load(synthetic_coco, "train")
    (category,) = data["categories"]
    assert category["keypoints"] == list(KEYPOINT_NAMES) and len(category["skeleton"]) == 19
    images = {image["id"]: image for image in data["images"]}
    assert len(images) == 12 and len(data["annotations"]) >= 12
    seen_visibility = set()
    for ann in data["annotations"]:
        image = images[ann["image_id"]]
        assert (synthetic_coco / "train2017" / image["file_name"]).is_file()
        keypoints = np.array(ann["keypoints"], dtype=float).reshape(17, 3)
        visible = keypoints[:, 2]
        seen_visibility |= set(visible.tolist())
        assert set(visible.tolist()) <= {0, 1, 2} and ann["num_keypoints"] == (visible > 0).sum()
        assert not keypoints[visible == 0].any()
        x, y, w, h = ann["bbox"]
        assert x >= 0 and y >= 0 and x + w <= image["width"] and y + h <= image["height"]
        labelled = keypoints[visible > 0, :2]
        assert (labelled >= [x, y]).all() and (labelled <= [x + w, y + h]).all()
        assert ann["area"] > 0 and ann["iscrowd"] == 0 and ann["category_id"] == 1
    assert {1, 2} <= seen_visibility


def test_generation_is_seeded(tmp_path: Path) -> None:
    generate(str(tmp_path / "a"), train=2, val=1, seed=3)
    generate(str(tmp_path / "b"), train=2, val=1, seed=3)
    generate(str(tmp_path / "c"), train=2, val=1, seed=4)
    assert load(tmp_path / "a", "val") == load(tmp_path / "b", "val")
    assert load(tmp_path / "a", "val") != load(tmp_path / "c", "val")


def test_command_line_writes_both_splits(tmp_path: Path) -> None:
    main(["--out", str(tmp_path), "--train", "2", "--val", "1"])
    assert len(load(tmp_path, "train")["images"]) == 2 and len(load(tmp_path, "val")["images"]) == 1
    assert len(list((tmp_path / "val2017").glob("*.jpg"))) == 1


def test_real_coco_tools_read_it(synthetic_coco: Path) -> None:
    coco = COCO(str(synthetic_coco / "annotations" / "person_keypoints_val2017.json"))
    assert len(coco.getImgIds()) == 6 and coco.getCatIds() == [1]
    init_default_scope("mmpose")
    dataset = DATASETS.build(
        dict(
            type="CocoDataset",
            data_root=str(synthetic_coco),
            data_mode="topdown",
            ann_file="annotations/person_keypoints_train2017.json",
            data_prefix=dict(img="train2017/"),
            pipeline=FIXED_TRAIN_PIPELINE,
        )
    )
    assert len(dataset) == len(load(synthetic_coco, "train")["annotations"])
    sample = dataset[0]
    width, height = CODEC["input_size"]
    assert tuple(sample["inputs"].shape) == (3, height, width)
    assert tuple(sample["data_samples"].gt_fields.heatmaps.shape) == (17, 24, 16)
