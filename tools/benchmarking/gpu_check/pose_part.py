"""Part ``pose``: HRNet-W32 through tools/train.py on generated COCO-format data."""

from __future__ import annotations

import os
import sys
from typing import Any

from .context import PartContext
from .processes import run_command, tail
from .settings import REPO
from .training_runs import add_ratios, arsam_train_options, common_train_options, train_each


def generate_coco(ctx: PartContext) -> str:
    """Generate the COCO-format stick figures under the part's folder; returns their root."""
    data = os.path.join(ctx.out, "coco_synthetic") + os.sep
    command = [sys.executable, "-m", "tasks.pose.synthetic_coco", "--out", data]
    command += ["--train", str(ctx.scale.pose_images), "--val", "2"]
    log = os.path.join(ctx.out, "data.log")
    if run_command(command, log, ctx.seconds_left()) != 0:
        raise RuntimeError("generating the COCO-format data failed:\n" + "\n".join(tail(log)))
    return data


def part_pose(ctx: PartContext) -> dict[str, Any]:
    """HRNet-W32 at 256x192 with Adam, SAM and ARSAM on generated COCO-format data."""
    scale = ctx.scale
    data = generate_coco(ctx)
    options = [
        f"train_dataloader.dataset.data_root={data}",
        f"val_dataloader.dataset.data_root={data}",
        "val_dataloader.dataset.bbox_file=None",
        f"val_evaluator.ann_file={data}annotations/person_keypoints_val2017.json",
        "model.backbone.init_cfg=None",
        f"train_cfg.max_epochs={scale.pose_epochs}",
        *common_train_options(scale, scale.pose_batch),
        *scale.pose_options,
    ]
    result: dict[str, Any] = {
        "config": "configs/pose/hrnet_{adam,sam,arsam}.py",
        "batch_size": scale.pose_batch,
        "images": scale.pose_images,
        "epochs": scale.pose_epochs,
        "arsam": {"warmup_epochs": 0, "window": scale.arsam_window},
    }
    runs = [
        (
            name,
            os.path.join(REPO, "configs", "pose", f"hrnet_{name}.py"),
            options + arsam_train_options(name, scale),
        )
        for name in ctx.train_names()
    ]
    train_each(ctx, runs, result)
    add_ratios(result["rows"], "adam")
    return result
