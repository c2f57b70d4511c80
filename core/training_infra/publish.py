"""Weights-only checkpoints: the model's tensors and plain metadata, nothing else.

Training checkpoints hold MMEngine's message hub (HistoryBuffer objects) and numpy arrays
in the dataset metadata, which torch's safe loader accepts only after this adapter has
allow-listed them. A published checkpoint holds tensors, numbers, strings, lists and
dicts only, so plain ``torch.load(path, weights_only=True)`` reads it, and so do MMPose's
tools (``publish_model.py``, ``init_model``) and tools/test.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

KEPT_META = ("epoch", "iter", "seed", "experiment_name", "mmengine_version", "dataset_meta")


def plain_data(value: Any) -> Any:
    """``value`` with numpy arrays and scalars turned into lists and numbers; others refused."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, dict):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_data(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"{type(value).__name__} is not plain data")


def weights_only_checkpoint(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The weights of a training checkpoint and its plain metadata (no optimizer, no logs)."""
    weights = checkpoint.get("state_dict", checkpoint)
    state_dict = {k: v.detach().cpu().clone() for k, v in weights.items() if torch.is_tensor(v)}
    meta = {}
    for key in KEPT_META:
        if key in (checkpoint.get("meta") or {}):
            try:
                meta[key] = plain_data(checkpoint["meta"][key])
            except TypeError:
                continue
    return {"state_dict": state_dict, "meta": meta}
