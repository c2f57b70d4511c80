"""Generate a small COCO-format keypoint dataset of drawn stick figures, for offline demos.

The layout matches COCO's: ``annotations/person_keypoints_{train,val}2017.json`` and images
in ``train2017/`` and ``val2017/``, so MMPose's real CocoDataset, transforms, codecs and
CocoMetric read it unchanged. Usage::

    python -m arsam.tasks.pose.synthetic_coco --out data/coco_synthetic --train 256 --val 64
"""

from __future__ import annotations

import argparse
import json
import math
import os
import os.path as osp
from collections.abc import Sequence

import cv2
import numpy as np

KEYPOINT_NAMES = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
SKELETON = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8),
    (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
)  # fmt: skip
CATEGORY = {
    "supercategory": "person",
    "id": 1,
    "name": "person",
    "keypoints": list(KEYPOINT_NAMES),
    "skeleton": [list(pair) for pair in SKELETON],
}
# One colour per keypoint (BGR); left joints warm, right joints cool, so flips are learnable.
JOINT_COLORS = (
    (255, 255, 255), (0, 128, 255), (255, 128, 0), (0, 200, 255), (255, 200, 0),
    (0, 0, 255), (255, 0, 0), (0, 96, 192), (192, 96, 0), (0, 255, 255), (255, 255, 0),
    (128, 0, 255), (255, 0, 128), (64, 64, 255), (255, 64, 64), (0, 255, 128), (128, 255, 0),
)  # fmt: skip
IMAGE_SIZE = (192, 160)  # width, height


def _offset(point: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``point`` moved by (dx, dy)."""
    return point + np.array([dx, dy])


def stick_figure(rng: np.random.Generator, height: float, hip: Sequence[float]) -> np.ndarray:
    """Return (17, 2) image coordinates of a random standing or moving stick figure."""
    h = height
    pelvis = np.zeros(2)
    neck = np.array([0.0, -0.38 * h])
    turn = rng.uniform(-0.03, 0.03) * h
    nose = _offset(neck, turn, -0.12 * h)
    points = {
        "nose": nose,
        "left_eye": _offset(nose, 0.03 * h, -0.03 * h),
        "right_eye": _offset(nose, -0.03 * h, -0.03 * h),
        "left_ear": _offset(nose, 0.06 * h, -0.01 * h),
        "right_ear": _offset(nose, -0.06 * h, -0.01 * h),
    }
    for side, sign in (("left", 1.0), ("right", -1.0)):
        shoulder = _offset(neck, sign * 0.11 * h, 0.02 * h)
        upper = math.radians(rng.uniform(-20.0, 150.0))
        lower = upper + math.radians(rng.uniform(0.0, 110.0))
        elbow = shoulder + 0.16 * h * np.array([sign * math.sin(upper), math.cos(upper)])
        wrist = elbow + 0.14 * h * np.array([sign * math.sin(lower), math.cos(lower)])
        hip_point = _offset(pelvis, sign * 0.07 * h, 0.0)
        thigh = math.radians(rng.uniform(-15.0, 45.0))
        shin = thigh + math.radians(rng.uniform(-35.0, 25.0))
        knee = hip_point + 0.22 * h * np.array([sign * math.sin(thigh), math.cos(thigh)])
        ankle = knee + 0.22 * h * np.array([sign * math.sin(shin), math.cos(shin)])
        points.update(
            {
                f"{side}_shoulder": shoulder,
                f"{side}_elbow": elbow,
                f"{side}_wrist": wrist,
                f"{side}_hip": hip_point,
                f"{side}_knee": knee,
                f"{side}_ankle": ankle,
            }
        )
    coords = np.stack([points[name] for name in KEYPOINT_NAMES])
    angle = math.radians(rng.uniform(-20.0, 20.0))
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return coords @ rotation.T + np.asarray(hip, dtype=float)


def draw_background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A noisy colour gradient with a few random rectangles as clutter."""
    width, height = size
    base = rng.integers(40, 200, size=3)
    ramp = np.linspace(-30, 30, width)[None, :, None]
    image = base[None, None, :] + ramp + rng.normal(0, 12, size=(height, width, 3))
    image = np.clip(image, 0, 255).astype(np.uint8)
    for _ in range(rng.integers(0, 4)):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(8, 40)), int(rng.integers(8, 40))
        color = tuple(int(c) for c in rng.integers(0, 255, size=3))
        cv2.rectangle(image, (x, y), (x + w, y + h), color, -1)
    return image


def draw_figure(image: np.ndarray, coords: np.ndarray, height: float) -> None:
    """Draw limbs, head and colour-coded joints of one figure onto ``image`` in place."""
    thickness = max(2, round(height / 30))
    pts = [tuple(round(float(v)) for v in p) for p in coords]
    for a, b in SKELETON:
        cv2.line(image, pts[a - 1], pts[b - 1], (200, 200, 200), thickness, cv2.LINE_AA)
    cv2.circle(image, pts[0], max(3, round(0.07 * height)), (230, 230, 230), 1, cv2.LINE_AA)
    for point, color in zip(pts, JOINT_COLORS, strict=True):
        cv2.circle(image, point, thickness + 1, color, -1, cv2.LINE_AA)


def occlude(rng: np.random.Generator, image: np.ndarray, point: np.ndarray, radius: int) -> None:
    """Cover ``point`` with a grey patch, making that keypoint occluded (visibility 1)."""
    x, y = (round(float(v)) for v in point)
    shade = int(rng.integers(60, 160))
    cv2.rectangle(image, (x - radius, y - radius), (x + radius, y + radius), (shade,) * 3, -1)


def make_image(
    rng: np.random.Generator, size: tuple[int, int] = IMAGE_SIZE
) -> tuple[np.ndarray, list[dict]]:
    """Draw one image with one or two figures; return it with per-person annotations."""
    width, height = size
    image = draw_background(rng, size)
    count = int(rng.integers(1, 3))
    people = []
    for index in range(count):
        person_h = rng.uniform(0.55, 0.85) * height / (1.0 if count == 1 else 1.15)
        slot = (index + 0.5) / count
        hip = (
            width * slot + rng.uniform(-0.08, 0.08) * width / count,
            height * 0.5 + rng.uniform(-0.05, 0.1) * height,
        )
        coords = stick_figure(rng, person_h, hip)
        draw_figure(image, coords, person_h)
        people.append((coords, person_h))
    annotations = []
    for coords, person_h in people:
        inside = (
            (coords[:, 0] >= 0)
            & (coords[:, 0] < width)
            & (coords[:, 1] >= 0)
            & (coords[:, 1] < height)
        )
        visibility = np.where(inside, 2, 0)
        for k in np.flatnonzero(inside & (rng.random(len(KEYPOINT_NAMES)) < 0.08)):
            occlude(rng, image, coords[k], max(3, round(person_h / 20)))
            visibility[k] = 1
        annotations.append(person_annotation(coords, visibility, person_h, size))
    return image, annotations


def person_annotation(
    coords: np.ndarray, visibility: np.ndarray, height: float, size: tuple[int, int]
) -> dict:
    """COCO fields (keypoints, num_keypoints, bbox, area) of one figure."""
    width, img_h = size
    margin = 0.08 * height
    labelled = visibility > 0
    x0, y0 = np.maximum(coords[labelled].min(axis=0) - margin, 0)
    x1, y1 = np.minimum(coords[labelled].max(axis=0) + margin, [width - 1, img_h - 1])
    keypoints = []
    for (x, y), v in zip(coords, visibility, strict=True):
        keypoints += [round(float(x), 2), round(float(y), 2), int(v)] if v else [0, 0, 0]
    bw, bh = float(x1 - x0), float(y1 - y0)
    return {
        "keypoints": keypoints,
        "num_keypoints": int(labelled.sum()),
        "bbox": [round(float(x0), 2), round(float(y0), 2), round(bw, 2), round(bh, 2)],
        "area": round(0.53 * bw * bh, 2),
        "iscrowd": 0,
        "category_id": 1,
    }


def write_split(out: str, split: str, count: int, seed: int) -> str:
    """Write ``count`` images of ``split`` and their annotation file; return the file's path."""
    image_dir = osp.join(out, f"{split}2017")
    os.makedirs(image_dir, exist_ok=True)
    os.makedirs(osp.join(out, "annotations"), exist_ok=True)
    split_key = sum(map(ord, split))
    images, annotations = [], []
    for index in range(count):
        rng = np.random.default_rng([seed, split_key, index])
        image, people = make_image(rng)
        image_id = index + 1
        file_name = f"{image_id:012d}.jpg"
        cv2.imwrite(osp.join(image_dir, file_name), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        height, width = image.shape[:2]
        images.append({"id": image_id, "file_name": file_name, "width": width, "height": height})
        for person in people:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, **person})
    data = {
        "info": {"description": "synthetic stick figures in COCO keypoint format"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [CATEGORY],
    }
    path = osp.join(out, "annotations", f"person_keypoints_{split}2017.json")
    with open(path, "w") as handle:
        json.dump(data, handle)
    return path


def generate(out: str, train: int = 256, val: int = 64, seed: int = 0) -> dict[str, str]:
    """Write the train and val splits under ``out``; return their annotation file paths."""
    counts = {"train": train, "val": val}
    return {split: write_split(out, split, n, seed) for split, n in counts.items()}


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/coco_synthetic", help="output folder")
    parser.add_argument("--train", type=int, default=256, help="number of training images")
    parser.add_argument("--val", type=int, default=64, help="number of validation images")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    paths = generate(args.out, args.train, args.val, args.seed)
    for split, path in paths.items():
        print(f"{split}: {path}")


if __name__ == "__main__":
    main()
