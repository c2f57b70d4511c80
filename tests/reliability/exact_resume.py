"""A shipped CPU config, killed in the middle of an epoch and resumed, ends bit for bit as unkilled.

    python -m tests.reliability.exact_resume CASE WORK_ROOT    (CASE: a key of CASES)

The shipped config runs with its own augmentations, validation and checkpoint rotation; only
the data is cut down (and, for pose, generated) so that an epoch takes a few iterations.
Prints one JSON line with the differences found (none: exact).
"""

from __future__ import annotations

import json
import os
import os.path as osp
import sys

import torch

import arsam.core.mmengine_adapter  # noqa: F401
import tests.adapter.toy  # noqa: F401  (FirstSamples)
from tests.reliability.harness import fork_train, same, training_state

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CASES = {
    "digits": "configs/classification/digits_arsam.py",
    "digits_workers": "configs/classification/digits_arsam.py",
    "digits_qat": "configs/quantization/digits_w4a4_arsam.py",
    "pose_synthetic": "configs/pose/hrnet_arsam_synthetic.py",
}
EPOCHS = 2


def small_config(case: str, work_root: str) -> tuple[str, int]:
    """A config inheriting the shipped one with a few iterations per epoch; its iterations/epoch."""
    base = osp.join(ROOT, CASES[case])
    lines = [f"_base_ = {base!r}", f"train_cfg = dict(max_epochs={EPOCHS}, val_interval=1)"]
    if case == "pose_synthetic":
        import arsam.tasks.pose  # noqa: F401
        from arsam.tasks.pose.synthetic_coco import generate

        data = osp.join(work_root, "coco_synthetic", "")
        generate(data, train=12, val=4, seed=0)
        ann = data + "annotations/person_keypoints_val2017.json"
        lines += [
            f"train_dataloader = dict(batch_size=4, dataset=dict(data_root={data!r}))",
            f"val_dataloader = dict(batch_size=4, dataset=dict(data_root={data!r}))",
            "test_dataloader = val_dataloader",
            f"val_evaluator = dict(ann_file={ann!r})",
            "test_evaluator = val_evaluator",
            "default_hooks = dict(checkpoint=dict(interval=1))",
        ]
        iterations = 3
    else:
        from mmengine.config import Config

        cfg = Config.fromfile(base)
        imports = [*cfg.custom_imports["imports"], "tests.adapter.toy"]
        # digits_workers: augmentations in two worker processes, started anew every epoch
        workers = ", num_workers=2, persistent_workers=False" if case == "digits_workers" else ""
        train = dict(
            _delete_=True,
            type="FirstSamples",
            count=192,
            dataset=cfg.train_dataloader.dataset.to_dict(),
        )
        val = dict(
            _delete_=True,
            type="FirstSamples",
            count=128,
            dataset=cfg.val_dataloader.dataset.to_dict(),
        )
        lines += [
            f"custom_imports = dict(imports={imports!r}, allow_failed_imports=False)",
            f"train_dataloader = dict(dataset={train!r}{workers})",
            f"val_dataloader = dict(dataset={val!r})",
            "test_dataloader = val_dataloader",
        ]
        iterations = 3
    if case == "digits_qat":
        # Brevitas ends its scale-statistics collection when a checkpoint is loaded; the shipped
        # config collects over 20 steps, less than its first epoch, and so must this one.
        lines.append("model = dict(backbone=dict(collect_stats_steps=2))")
    lines += ["log_level = 'WARNING'"]
    path = osp.join(work_root, f"{case}.py")
    os.makedirs(work_root, exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path, iterations


def final_state(work_dir: str) -> dict:
    """The training state in the checkpoint ``last_checkpoint`` names."""
    with open(osp.join(work_dir, "last_checkpoint")) as f:
        path = f.read().strip()
    return training_state(torch.load(path, map_location="cpu", weights_only=True))


def run(case: str, work_root: str) -> dict:
    """Unkilled run, run killed mid-epoch 2, its resume; the differences at the end."""
    config, per_epoch = small_config(case, work_root)
    straight, killed = osp.join(work_root, "straight"), osp.join(work_root, "killed")
    failures = []
    if fork_train([config, "--work-dir", straight]) != 0:
        return {"failures": ["the uninterrupted run failed"]}
    code = fork_train([config, "--work-dir", killed], kill_after_iteration=per_epoch + 2)
    if code != -9:
        failures.append(f"the run to kill exited with {code}")
    if fork_train([config, "--work-dir", killed, "--resume"]) != 0:
        return {"failures": [*failures, "the resumed run failed"]}
    a, b = final_state(killed), final_state(straight)
    failures += same(a, b, "final")
    return {"case": case, "progress": a["progress"], "failures": failures}


if __name__ == "__main__":
    summary = run(sys.argv[1], sys.argv[2])
    print(json.dumps(summary), flush=True)
    sys.exit(1 if summary["failures"] else 0)
