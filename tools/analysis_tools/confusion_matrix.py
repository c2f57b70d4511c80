"""Confusion matrix of a classification config's test predictions (MMPretrain's confusion_matrix).

    python tools/analysis_tools/confusion_matrix.py CONFIG CKPT_OR_DUMP [--show-path FILE.png]
        [--out FILE.json] [--include-values] [--cmap viridis]

CKPT_OR_DUMP is a checkpoint (.pth; the test split is evaluated) or the predictions
``tools/test.py --dump FILE.pkl`` wrote. Rows are true labels, columns predicted labels.
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

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

from arsam.tools.analysis_tools.class_predictions import class_names, predictions_of  # noqa: E402
from arsam.tools.analysis_tools.figures import check_figure_path, save_figure  # noqa: E402
from arsam.tools.analysis_tools.tool_config import load_scoped_config  # noqa: E402
from arsam.tools.cli.errors import UserError, main  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, in MMPretrain's conventions."""
    parser = argparse.ArgumentParser(description="Confusion matrix of the test predictions.")
    parser.add_argument("config", help="config file, e.g. configs/classification/digits_arsam.py")
    parser.add_argument("ckpt_or_result", help="checkpoint (.pth) or tools/test.py --dump file")
    parser.add_argument(
        "--show-path", help="save the matrix figure here (default <CKPT_OR_DUMP>_confusion.png)"
    )
    parser.add_argument("--out", help="also save the matrix as .json (rows: true labels)")
    parser.add_argument(
        "--include-values", action="store_true", help="write each cell's count in the figure"
    )
    parser.add_argument("--cmap", default="viridis", help="matplotlib colour map")
    parser.add_argument(
        "--cfg-options", nargs="+", action=DictAction, help="override config entries: key=value"
    )
    return parser.parse_args(argv)


def confusion_matrix(predictions: list[dict[str, Any]], num_classes: int) -> torch.Tensor:
    """Counts[true, predicted] of the predictions."""
    matrix = torch.zeros(num_classes, num_classes, dtype=torch.long)
    for prediction in predictions:
        matrix[int(prediction["gt_label"]), int(prediction["pred_label"])] += 1
    return matrix


def plot_matrix(
    matrix: torch.Tensor, names: list[str], include_values: bool, cmap: str
) -> plt.Figure:
    """The matrix as a figure: rows true labels, columns predicted, colour the row's share."""
    share = matrix.float() / matrix.sum(dim=1, keepdim=True).clamp_min(1)
    size = max(4.0, 0.5 * len(names) + 2)
    figure, axis = plt.subplots(figsize=(size, size))
    image = axis.imshow(share.numpy(), cmap=cmap, vmin=0, vmax=1)
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04, label="share of the true class")
    ticks = range(len(names))
    axis.set_xticks(ticks, names, rotation=45, ha="right")
    axis.set_yticks(ticks, names)
    axis.set_xlabel("predicted label")
    axis.set_ylabel("true label")
    axis.set_title("Confusion matrix")
    if include_values:
        for row in ticks:
            for column in ticks:
                color = "white" if share[row, column] < 0.5 else "black"
                axis.text(
                    column,
                    row,
                    int(matrix[row, column]),
                    ha="center",
                    va="center",
                    color=color,
                    fontsize=8,
                )
    figure.tight_layout()
    return figure


def run(argv: list[str] | None = None) -> torch.Tensor:
    """Print the matrix, save its figure (and --out); returns the matrix."""
    args = parse_args(argv)
    if args.cmap not in plt.colormaps():
        raise UserError(f"--cmap {args.cmap!r} is not a matplotlib colour map, e.g. viridis.")
    figure_path = args.show_path or osp.splitext(args.ckpt_or_result)[0] + "_confusion.png"
    check_figure_path(figure_path, "--show-path")
    if args.out is not None and not args.out.lower().endswith(".json"):
        raise UserError(f"--out {args.out!r}: give a .json file, e.g. --out matrix.json.")
    cfg = load_scoped_config(args.config, args.cfg_options)
    predictions = predictions_of(cfg, args.ckpt_or_result)
    count = 1 + max(
        max(int(p["gt_label"]), int(p["pred_label"]), len(p["scores"]) - 1) for p in predictions
    )
    names = class_names(cfg, count)
    matrix = confusion_matrix(predictions, len(names))
    print("rows: true label, columns: predicted label")
    print("\t" + "\t".join(names))
    for name, row in zip(names, matrix.tolist(), strict=True):
        print(name + "\t" + "\t".join(str(v) for v in row))
    figure = plot_matrix(matrix, names, args.include_values, args.cmap)
    print(f"saved the figure to {save_figure(figure, figure_path)}")
    if args.out is not None:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as file:
            json.dump({"classes": names, "matrix": matrix.tolist()}, file, indent=1)
        print(f"saved the matrix to {args.out}")
    return matrix


if __name__ == "__main__":
    sys.exit(main(run))
