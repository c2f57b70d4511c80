"""The worst predictions of a classification config, with their images (MMPretrain's
analyze_results; ``tools/test.py --badcase`` writes the same).

    python tools/analysis_tools/analyze_results.py CONFIG CKPT_OR_DUMP --out-dir DIR [--topk 20]

CKPT_OR_DUMP is a checkpoint (.pth; the test split is evaluated) or the predictions
``tools/test.py --dump FILE.pkl`` wrote. The predictions are ranked by their cross-entropy on
the true label; the ``topk`` worst are drawn into DIR with their predicted and true labels, and
listed in ``DIR/bad_cases.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys
import warnings
from typing import Any

# mmengine imports pkg_resources, which warns on every start; nothing for a user to act on.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import DATASETS  # noqa: E402

from arsam.tools.analysis_tools.class_predictions import (  # noqa: E402
    predictions_of,
    true_class_losses,
)
from arsam.tools.analysis_tools.figures import save_figure  # noqa: E402
from arsam.tools.analysis_tools.tool_config import dataset_section, load_scoped_config  # noqa: E402
from arsam.tools.cli.errors import UserError, config_errors, main  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, in MMPretrain's conventions."""
    parser = argparse.ArgumentParser(description="Draw the worst test predictions.")
    parser.add_argument("config", help="config file, e.g. configs/classification/digits_arsam.py")
    parser.add_argument("ckpt_or_result", help="checkpoint (.pth) or tools/test.py --dump file")
    parser.add_argument("--out-dir", required=True, help="folder the images are saved into")
    parser.add_argument("--topk", type=int, default=20, help="how many predictions (default 20)")
    parser.add_argument(
        "--cfg-options", nargs="+", action=DictAction, help="override config entries: key=value"
    )
    return parser.parse_args(argv)


def write_bad_cases(
    cfg: Config, predictions: list[dict[str, Any]], out_dir: str, topk: int
) -> list[dict[str, Any]]:
    """Draw the ``topk`` predictions with the highest true-label loss into ``out_dir``."""
    from arsam.tasks.classification.visualization import draw_prediction

    if topk < 1:
        raise UserError(f"--topk must be 1 or more, got {topk}.")
    with config_errors("dataset"):
        dataset = DATASETS.build(dataset_section(cfg, "test"))
    if len(dataset) != len(predictions):
        raise UserError(
            f"the predictions hold {len(predictions)} samples but the config's test dataset "
            f"{len(dataset)}: they come from another config or data. Give the config the "
            "predictions were made with."
        )
    classes = (getattr(dataset, "metainfo", None) or {}).get("classes")
    losses = true_class_losses(predictions)
    order = losses.argsort(descending=True)[:topk].tolist()
    os.makedirs(out_dir, exist_ok=True)
    cases = []
    for rank, index in enumerate(order, start=1):
        prediction = predictions[index]
        truth, predicted = int(prediction["gt_label"]), int(prediction["pred_label"])
        name = f"{rank:03d}_sample{index}_true{truth}_pred{predicted}.png"
        title = f"#{rank} sample {index}, loss {float(losses[index]):.2f}"
        figure = draw_prediction(dataset[index]["inputs"], prediction, classes, title=title)
        save_figure(figure, osp.join(out_dir, name))
        cases.append(
            dict(
                rank=rank,
                sample=index,
                true_label=truth,
                pred_label=predicted,
                loss=float(losses[index]),
                image=name,
            )
        )
    with open(osp.join(out_dir, "bad_cases.json"), "w") as file:
        json.dump(cases, file, indent=1)
    print(f"saved the {len(cases)} worst predictions into {out_dir}")
    return cases


def run(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Draw the worst predictions; returns their list."""
    args = parse_args(argv)
    cfg = load_scoped_config(args.config, args.cfg_options)
    predictions = predictions_of(cfg, args.ckpt_or_result)
    return write_bad_cases(cfg, predictions, args.out_dir, args.topk)


if __name__ == "__main__":
    sys.exit(main(run))
