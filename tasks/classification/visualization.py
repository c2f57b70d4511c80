"""Classification images drawn with their predicted and true labels (MMPretrain's
VisualizationHook): ``tools/test.py --show-dir`` / ``--show`` and ``tools/train.py --show-dir``."""

from __future__ import annotations

import os
import os.path as osp
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


def label_name(label: int | None, classes: Sequence[str] | None) -> str:
    """The class name of ``label`` when the dataset names its classes, else the number."""
    if label is None:
        return "?"
    return str(classes[label]) if classes and 0 <= label < len(classes) else str(label)


def image_array(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """A CxHxW (or HxW) image as an HxW or HxWx3 array matplotlib can show."""
    array = image.detach().cpu().float().numpy() if isinstance(image, torch.Tensor) else image
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        array = array.transpose(1, 2, 0)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    low, high = float(array.min()), float(array.max())
    return (array - low) / max(high - low, 1e-6)


def draw_prediction(
    image: torch.Tensor | np.ndarray,
    prediction: dict[str, Any],
    classes: Sequence[str] | None,
    title: str | None = None,
) -> plt.Figure:
    """A figure of ``image`` titled with its predicted label, its score and its true label."""
    predicted, truth = prediction.get("pred_label"), prediction.get("gt_label")
    predicted = None if predicted is None else int(predicted)
    truth = None if truth is None else int(truth)
    text = f"pred: {label_name(predicted, classes)}"
    scores = prediction.get("scores")
    if scores is not None and predicted is not None:
        probabilities = torch.as_tensor(scores).float().softmax(dim=0)
        text += f" ({float(probabilities[predicted]):.2f})"
    text += f"\ntrue: {label_name(truth, classes)}"
    figure, axis = plt.subplots(figsize=(2.4, 2.8))
    array = image_array(image)
    axis.imshow(array, cmap="gray" if array.ndim == 2 else None, interpolation="nearest")
    axis.axis("off")
    right = truth is None or predicted == truth
    axis.set_title(text if title is None else f"{title}\n{text}", color="green" if right else "red")
    figure.tight_layout()
    return figure


def figure_to_array(figure: plt.Figure) -> np.ndarray:
    """The RGB pixels of a drawn figure."""
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()


@HOOKS.register_module()
class ClsVisualizationHook(Hook):
    """Draw classification samples with their predicted and true labels.

    Validation: the first sample of every ``interval``-th batch goes to the visualizer's
    backends (and to ``out_dir/val_<sample index>_iter<iteration>.png`` when given). Test:
    every ``interval``-th sample is saved to ``out_dir/<index>.png`` and/or shown for
    ``wait_time`` seconds.
    """

    priority = "NORMAL"

    def __init__(
        self,
        enable: bool = False,
        interval: int = 1,
        show: bool = False,
        wait_time: float = 0.0,
        out_dir: str | None = None,
    ) -> None:
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f"ClsVisualizationHook interval must be 1 or more, got {interval!r}")
        self.enable, self.interval, self.show = enable, interval, show
        self.wait_time, self.out_dir = wait_time, out_dir
        self._test_index = 0

    def _emit(self, runner: Any, figure: plt.Figure, name: str, step: int) -> None:
        if self.out_dir is not None:
            os.makedirs(self.out_dir, exist_ok=True)
            figure.savefig(osp.join(self.out_dir, f"{name}.png"))
        if self.show:
            plt.show(block=False)
            plt.pause(max(self.wait_time, 1e-3))
        if runner is not None and getattr(runner, "visualizer", None) is not None:
            runner.visualizer.add_image(name, figure_to_array(figure), step=step)
        plt.close(figure)

    @staticmethod
    def _classes(loop: Any) -> Sequence[str] | None:
        dataset = getattr(getattr(loop, "dataloader", None), "dataset", None)
        return (getattr(dataset, "metainfo", None) or {}).get("classes")

    def after_val_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        """Draw the first sample of every ``interval``-th validation batch."""
        if not self.enable or not outputs or batch_idx % self.interval:
            return
        classes = self._classes(runner.val_loop)
        figure = draw_prediction(data_batch["inputs"][0], outputs[0], classes)
        batch_size = getattr(runner.val_loop.dataloader, "batch_size", None) or len(outputs)
        name = f"val_{batch_idx * batch_size:05d}_iter{runner.iter}"  # one file per validation
        self._emit(runner, figure, name, runner.iter)

    def before_test(self, runner: Any) -> None:
        """Start counting the test samples from zero."""
        self._test_index = 0

    def after_test_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        """Save (or show) every ``interval``-th test sample with its labels."""
        if not self.enable or not outputs:
            return
        classes = self._classes(runner.test_loop)
        for image, prediction in zip(data_batch["inputs"], outputs, strict=True):
            index, self._test_index = self._test_index, self._test_index + 1
            if index % self.interval:
                continue
            figure = draw_prediction(image, prediction, classes)
            self._emit(None, figure, f"{index:05d}", index)
