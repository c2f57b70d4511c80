"""Part ``accuracy``: SGD, SAM and ARSAM through tools/compare.py on procedural images."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from typing import Any

from .context import PartContext
from .processes import exit_description, read_json_or_none, run_command, tail
from .settings import PROCEDURAL_MODULE, REPO, TRAIN_NAMES

ACCURACY_CONFIG = """# Written by tools/reproduce/gpu_check.py: {base} on procedural images.
_base_ = ["{base}"]

custom_imports = dict(
    imports=["core.mmengine_adapter", "tasks.classification", "{module}"],
    allow_failed_imports=False,
)
data_preprocessor = dict(mean=[127.5, 127.5, 127.5], std=[64.0, 64.0, 64.0])
model = dict(backbone=dict({backbone}))
train_cfg = dict(max_epochs={epochs}, val_interval=1)
train_dataloader = dict(
    batch_size={batch},
    num_workers={workers},
    persistent_workers={persistent},
    dataset=dict(
        _delete_=True,
        type="ProceduralDataset",
        split="train",
        num_images={train},
        pipeline=[
            dict(type="RandomPadCrop", size=32, padding=4),
            dict(type="RandomHorizontalFlip", prob=0.5),
            dict(type="PackClsInputs"),
        ],
    ),
)
val_dataloader = dict(
    batch_size=256,
    num_workers={workers},
    persistent_workers={persistent},
    dataset=dict(_delete_=True, type="ProceduralDataset", split="test", num_images={test}),
)
test_dataloader = val_dataloader
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=1000000, save_last=False, save_best=None, rule=None),
)
"""


def procedural_available() -> bool:
    """Whether the procedural image generator can be imported."""
    try:
        return importlib.util.find_spec(PROCEDURAL_MODULE) is not None
    except ModuleNotFoundError:
        return False


def write_accuracy_configs(ctx: PartContext) -> str:
    """SGD, SAM and ARSAM configs on procedural images; returns their common prefix."""
    scale = ctx.scale
    backbone = {k: v for k, v in scale.resnet18.items() if k != "type"}
    prefix = os.path.join(ctx.out, "configs", "procedural_resnet18")
    os.makedirs(os.path.dirname(prefix), exist_ok=True)
    for name in ("sgd", "sam", "arsam"):
        base = os.path.join(REPO, "configs", "classification", f"resnet18_cifar10_{name}.py")
        text = ACCURACY_CONFIG.format(
            base=base,
            module=PROCEDURAL_MODULE,
            backbone=", ".join(f"{k}={v!r}" for k, v in backbone.items()),
            epochs=scale.acc_epochs,
            batch=scale.acc_batch,
            workers=scale.workers,
            persistent=scale.workers > 0,
            train=scale.acc_images[0],
            test=scale.acc_images[1],
        )
        with open(f"{prefix}_{name}.py", "w") as handle:
            handle.write(text)
    return prefix


def finished_runs(out: str) -> list[dict[str, Any]]:
    """The runs tools/compare.py summarised, or (cut short) those whose training finished."""
    summary = read_json_or_none(os.path.join(out, "compare.json"))
    runs = (summary or {}).get("runs")
    if runs is not None:
        return runs
    from ..comparison import summarize_run

    runs = []
    for name in TRAIN_NAMES["accuracy"].values():
        work_dir = os.path.join(out, "runs", f"{name.lower()}_seed0")
        if os.path.isfile(os.path.join(work_dir, "training_curve.json")):
            runs.append(summarize_run(work_dir, name, 0, None, "accuracy/top1"))
    return runs


def accuracy_row(run: dict[str, Any]) -> dict[str, Any]:
    """One optimizer's accuracy, passes, SAM fraction, training time and accuracy-time curve."""
    points = [
        [p.get("train_time_s"), p.get("accuracy/top1")]
        for p in run.get("points", [])
        if "accuracy/top1" in p
    ]
    return {
        "optimizer": run["optimizer"],
        "final": run.get("final"),
        "best": run.get("best"),
        "passes_per_step": run.get("passes_per_step"),
        "sam_fraction": run.get("sam_fraction"),
        "train_time_s": run.get("train_time_s"),
        "curve": points,
    }


def part_accuracy(ctx: PartContext) -> dict[str, Any]:
    """SGD, SAM and ARSAM through tools/compare.py on generated CIFAR-sized images."""
    scale = ctx.scale
    if not procedural_available():
        return {"available": False, "note": f"{PROCEDURAL_MODULE} is not importable"}
    prefix = write_accuracy_configs(ctx)
    command = [sys.executable, os.path.join(REPO, "tools", "compare.py")]
    names = ",".join(ctx.train_names())
    command += ["--config-prefix", prefix, "--optimizers", names, "--seeds", "0"]
    command += ["--out", ctx.out, "--optimizer-options", json.dumps({"ARSAM": scale.acc_arsam})]
    log = os.path.join(ctx.out, "compare.log")
    code = run_command(command, log, ctx.seconds_left() - 2.0)
    result: dict[str, Any] = {
        "available": True,
        "images": list(scale.acc_images),
        "epochs": scale.acc_epochs,
        "batch_size": scale.acc_batch,
        "arsam": scale.acc_arsam,
        "rows": [accuracy_row(run) for run in finished_runs(ctx.out)],
    }
    if code != 0:
        result["errors"] = [exit_description("tools/compare.py", code), *tail(log)]
    return result
