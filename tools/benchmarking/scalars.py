"""Reading a run's logs: MMEngine's ``vis_data/scalars.json`` and the JSON files we write."""

from __future__ import annotations

import glob
import json
import os
from typing import Any

from core.mmengine_adapter.optim_wrapper import TELEMETRY_KEYS


def read_json(path: str, default: Any = None) -> Any:
    """The JSON document at ``path``; ``default`` when given and the file is missing."""
    if default is not None and not os.path.isfile(path):
        return default
    with open(path) as handle:
        return json.load(handle)


def read_scalar_records(work_dir: str) -> list[dict[str, Any]]:
    """Every record of every ``<timestamp>/vis_data/scalars.json`` in ``work_dir``, oldest first."""
    records: list[dict[str, Any]] = []
    for path in sorted(glob.glob(os.path.join(work_dir, "*", "vis_data", "scalars.json"))):
        with open(path) as handle:
            for line in handle:
                line = line.strip()
                if not line:
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    return records


def telemetry_series(records: list[dict[str, Any]]) -> dict[str, list[list[float]]]:
    """Per telemetry key, the logged [iteration, value] pairs of the training records."""
    series: dict[str, list[list[float]]] = {key: [] for key in TELEMETRY_KEYS}
    for record in records:
        step = record.get("step", record.get("iter"))
        if step is None or "loss" not in record:
            continue
        for key in TELEMETRY_KEYS:
            value = record.get(key)
            if isinstance(value, int | float):
                series[key].append([float(step), float(value)])
    return series
