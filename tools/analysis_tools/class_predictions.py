"""Classification predictions for the analysis tools: a ``--dump`` file or a checkpoint's test."""

from __future__ import annotations

import io
import os.path as osp
import pickle
import tempfile
from typing import Any

import torch
import torch._weights_only_unpickler as weights_only_unpickler
from mmengine.config import Config

from arsam.tools.analysis_tools.tool_config import dataset_section
from arsam.tools.cli.config import add_dump_metric
from arsam.tools.cli.errors import UserError, config_errors
from arsam.tools.cli.runs import test


def _tensor_bytes(data: bytes) -> Any:
    """A tensor storage inside a pickled dump, read weights-only."""
    return torch.load(io.BytesIO(data), weights_only=True)


def read_predictions(path: str) -> list[dict[str, Any]]:
    """The predictions ``tools/test.py --dump`` pickled to ``path``."""
    if not osp.isfile(path):
        raise UserError(
            f"predictions file {path!r} not found; write one with tools/test.py --dump FILE.pkl."
        )
    try:  # torch's weights-only unpickler: a pickle that would run code is refused
        storages = [(_tensor_bytes, "torch.storage._load_from_bytes")]
        with torch.serialization.safe_globals(storages), open(path, "rb") as file:
            predictions = weights_only_unpickler.load(file, encoding="ASCII")
    except (pickle.UnpicklingError, EOFError, ValueError) as error:
        raise UserError(
            f"{path!r} is not a predictions file this tool reads safely ({error}). Give the "
            "--dump file that tools/test.py wrote for a classification config."
        ) from None
    if (
        not isinstance(predictions, list)
        or not predictions
        or not all(
            isinstance(p, dict) and {"scores", "pred_label", "gt_label"} <= set(p)
            for p in predictions
        )
    ):
        raise UserError(
            f"{path!r} holds no classification predictions (a list of dicts with scores, "
            "pred_label and gt_label, as tools/test.py --dump writes for a classification "
            "config). Give the --dump file of a classification test run, or a checkpoint."
        )
    return predictions


def predictions_of(cfg: Config, source: str) -> list[dict[str, Any]]:
    """Predictions from a ``.pkl`` dump, or from testing the checkpoint ``source`` (``.pth``)."""
    if source.lower().endswith((".pkl", ".pickle")):
        return read_predictions(source)
    with tempfile.TemporaryDirectory() as folder:
        dump = osp.join(folder, "predictions.pkl")
        add_dump_metric(cfg, dump)
        cfg.work_dir = osp.join(folder, "work_dir")
        test(cfg, source)
        return read_predictions(dump)


def class_names(cfg: Config, count: int) -> list[str]:
    """The test dataset's class names, or the numbers 0..count-1 when it names none."""
    classes = None
    try:
        from mmengine.registry import DATASETS

        with config_errors("dataset"):
            dataset = DATASETS.build(dataset_section(cfg, "test"))
        classes = (getattr(dataset, "metainfo", None) or {}).get("classes")
    except UserError:
        classes = None
    if classes and len(classes) >= count:
        return [str(c) for c in classes]
    return [str(i) for i in range(count)]


def true_class_losses(predictions: list[dict[str, Any]]) -> torch.Tensor:
    """Each prediction's cross-entropy on its true label (higher: a worse prediction)."""
    scores = torch.stack([torch.as_tensor(p["scores"]).float() for p in predictions])
    labels = torch.tensor([int(p["gt_label"]) for p in predictions])
    return -scores.log_softmax(dim=1).gather(1, labels[:, None])[:, 0]
