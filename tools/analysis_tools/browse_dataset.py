"""Save samples of a config's dataset as they come out of its pipeline, as images.

    python tools/analysis_tools/browse_dataset.py CONFIG --output-dir DIR [--phase train]

Pose configs: one image per sample with the transformed keypoints and target heatmaps drawn
by MMPose's visualizer (as MMPose's browse_dataset does). Classification configs: one grid
of the samples with their labels.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import math
import os
import os.path as osp
import sys
import time
import warnings
from typing import Any

# mmengine imports pkg_resources, which warns on every start; nothing for a user to act on.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import DATASETS  # noqa: E402

from arsam.tools.analysis_tools.figures import save_figure  # noqa: E402
from arsam.tools.analysis_tools.tool_config import dataset_section, load_scoped_config  # noqa: E402
from arsam.tools.cli.errors import UserError, config_errors, main  # noqa: E402

_VISUALIZER_IDS = itertools.count()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, in MMPose's conventions."""
    parser = argparse.ArgumentParser(description="Save dataset samples after the pipeline.")
    parser.add_argument("config", help="config file, e.g. configs/pose/hrnet_arsam_synthetic.py")
    parser.add_argument("--output-dir", required=True, help="folder the images are saved into")
    parser.add_argument(
        "--phase", choices=["train", "val", "test"], default="train", help="which data loader"
    )
    parser.add_argument(
        "--max-item-per-dataset", type=int, default=50, help="number of samples (default 50)"
    )
    parser.add_argument(
        "--mode",
        choices=["original", "transformed"],
        default="transformed",
        help="original: the images as loaded, before the pipeline's transforms; transformed: "
        "after them (default)",
    )
    parser.add_argument(
        "--not-show",
        action="store_true",
        help="do not show the images in windows; accepted for MMPose's command lines: this tool "
        "always saves into --output-dir and never opens a window",
    )
    parser.add_argument(
        "--show-interval", type=float, help="MMPose's seconds per shown window (with --not-show)"
    )
    parser.add_argument(
        "--cfg-options", nargs="+", action=DictAction, help="override config entries: key=value"
    )
    return parser.parse_args(argv)


def original_pipeline(pipeline: list[dict]) -> list[dict]:
    """The loading steps and the final packing of ``pipeline``, without its transforms."""
    loading = [step for step in pipeline if str(step.get("type", "")).startswith("Load")]
    packing = [step for step in pipeline[-1:] if str(step.get("type", "")).startswith("Pack")]
    return [*loading, *packing]


def build_dataset(section: dict) -> Any:
    """The dataset of ``section`` with its pipeline."""
    with config_errors("dataset"):
        return DATASETS.build(section)


def browse_pose(
    cfg: Config, section: dict, count: int, out_dir: str, original: bool = False
) -> list[str]:
    """Draw ``count`` pose samples with MMPose's visualizer; returns the files."""
    import mmcv
    from mmpose.registry import VISUALIZERS

    section = copy.deepcopy(section)
    if original:
        section["pipeline"] = original_pipeline(section.get("pipeline") or [])
    pipeline = section.get("pipeline") or []
    if not original and pipeline and pipeline[-1].get("type") == "PackPoseInputs":
        pipeline[-1]["pack_transformed"] = True  # keep the keypoints in the transformed image
    dataset = build_dataset(section)
    name = f"browse_dataset_{time.strftime('%H%M%S')}_{next(_VISUALIZER_IDS)}"
    visualizer = VISUALIZERS.build({**cfg.visualizer, "name": name, "vis_backends": None})
    visualizer.set_dataset_meta(dataset.metainfo)
    written = []
    for index in range(min(count, len(dataset))):
        item = dataset[index]
        image = mmcv.bgr2rgb(item["inputs"].permute(1, 2, 0).numpy())
        sample = item["data_samples"]
        base = osp.basename(sample.img_path)
        path = osp.join(out_dir, f"{index:04d}_{base}")
        with warnings.catch_warnings():  # heatmaps are smaller than the image by design
            warnings.filterwarnings("ignore", message="Since the spatial dimensions")
            visualizer.add_datasample(
                base,
                image,
                sample,
                draw_pred=False,
                draw_heatmap=not original,
                show=False,
                out_file=path,
            )
        written.append(path)
    return written


def browse_images(section: dict, count: int, path: str) -> list[str]:
    """One grid of ``count`` image samples titled with their labels; returns the file."""
    dataset = build_dataset(section)
    items = [dataset[index] for index in range(min(count, len(dataset)))]
    for item in items:
        inputs = item.get("inputs") if isinstance(item, dict) else None
        if not isinstance(inputs, torch.Tensor) or inputs.dim() != 3:
            keys = sorted(item) if isinstance(item, dict) else type(item).__name__
            raise UserError(
                "browse_dataset draws MMPose datasets and image datasets whose pipeline ends in "
                f"dict(inputs=CxHxW image tensor, labels=...); this dataset gives {keys}. Use a "
                "pose or classification config."
            )
    classes = (getattr(dataset, "metainfo", None) or {}).get("classes")
    columns = max(1, math.ceil(math.sqrt(len(items))))
    rows = max(1, math.ceil(len(items) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.8 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, item in zip(axes.flat, items, strict=False):
        image = item["inputs"].float()
        image = (image - image.min()) / (image.max() - image.min()).clamp_min(1e-6)
        if image.shape[0] == 1:
            axis.imshow(image[0].numpy(), cmap="gray")
        else:
            axis.imshow(image[:3].permute(1, 2, 0).numpy())
        label = item.get("labels")
        if label is not None:
            label = int(label)
            axis.set_title(classes[label] if classes and label < len(classes) else str(label))
    figure.tight_layout()
    return [save_figure(figure, path)]


def run(argv: list[str] | None = None) -> list[str]:
    """Save the samples; returns the files written."""
    args = parse_args(argv)
    if args.max_item_per_dataset < 1:
        raise UserError(
            f"--max-item-per-dataset must be 1 or more, got {args.max_item_per_dataset}."
        )
    if args.show_interval is not None and not args.not_show:
        raise UserError(
            "--show-interval sets how long MMPose shows each image in a window, and this tool "
            "shows no windows: it saves the images into --output-dir. Leave --show-interval out "
            "(or give it with --not-show, as an MMPose command line does) and open the saved "
            "images."
        )
    cfg = load_scoped_config(args.config, args.cfg_options)
    section = dataset_section(cfg, args.phase)
    original = args.mode == "original"
    os.makedirs(args.output_dir, exist_ok=True)
    if cfg.get("default_scope") == "mmpose":
        written = browse_pose(cfg, section, args.max_item_per_dataset, args.output_dir, original)
    else:
        if original:
            section = {**section, "pipeline": original_pipeline(section.get("pipeline") or [])}
        name = f"{args.phase}_original" if original else args.phase
        grid = osp.join(args.output_dir, f"{name}_samples.png")
        written = browse_images(section, args.max_item_per_dataset, grid)
    print(f"saved {len(written)} image(s) into {args.output_dir}")
    return written


if __name__ == "__main__":
    sys.exit(main(run))
