"""Reading what a run logged: the ``<timestamp>/vis_data/scalars.json`` files of a work dir.

The one reader of these files: the analysis tools, the benchmark and comparison code, the GPU
check and the classification and pose summaries all read logs through ``read_records``.
"""

from __future__ import annotations

import glob
import json
import os.path as osp
from typing import Any

from arsam.core.mmengine_adapter.optim_wrapper import TELEMETRY_KEYS
from arsam.tools.cli.errors import UserError


def scalar_files(path: str, missing_ok: bool = False) -> list[str]:
    """The scalars files of a work dir (oldest run first), or ``path`` itself if it is one.

    With ``missing_ok`` a path without logs gives an empty list instead of a ``UserError``.
    """
    if osp.isfile(path):
        return [path]
    found = sorted(glob.glob(osp.join(path, "*", "vis_data", "scalars.json")))
    if found or missing_ok:
        return found
    if not osp.isdir(path):
        raise UserError(
            f"{path!r} is neither a work dir nor a log file. Give the folder tools/train.py "
            "wrote into (its --work-dir, by default work_dirs/<config name>) or one of its "
            "<timestamp>/vis_data/scalars.json files."
        )
    raise UserError(
        f"no logged values in {path!r}: it holds no <timestamp>/vis_data/scalars.json. Give "
        "a work dir written by tools/train.py (MMEngine's LocalVisBackend, in "
        "the config's visualizer.vis_backends, writes that file)."
    )


def read_records(path: str, missing_ok: bool = False) -> list[dict[str, Any]]:
    """Every logged record of a work dir or scalars file, in the order they were written."""
    records: list[dict[str, Any]] = []
    for name in scalar_files(path, missing_ok):
        with open(name) as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by an interrupted run, or a blank one
                if isinstance(record, dict):
                    records.append(record)
    return records


def lookup(record: dict[str, Any], key: str) -> Any:
    """``record[key]``, also accepting prefixed names such as ``train/key`` or ``optim/key``."""
    if key in record:
        return record[key]
    for name, value in record.items():
        if name.rsplit("/", 1)[-1] == key:
            return value
    return None


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


def is_training_record(record: dict[str, Any]) -> bool:
    """Whether ``record`` was logged after a training iteration (not after validation)."""
    return "iter" in record


def series(records: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """Iterations and values of ``key``; a validation value sits at the last iteration before it.

    MMEngine logs a validation record with the epoch as its step in epoch-based runs; it is
    placed at the last training iteration logged before it instead.
    """
    xs: list[float] = []
    ys: list[float] = []
    last_iteration: float | None = None
    for record in records:
        if is_training_record(record):
            last_iteration = float(record["iter"])
        value = record.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        x = last_iteration if last_iteration is not None else record.get("step", 0)
        xs.append(float(x))
        ys.append(float(value))
    return xs, ys


def logged_keys(records: list[dict[str, Any]]) -> list[str]:
    """The numeric keys the records hold, besides the counters."""
    keys = {
        k
        for r in records
        for k, v in r.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    return sorted(keys - {"epoch", "iter", "step"})


def run_name(path: str) -> str:
    """A short label for a work dir or scalars file."""
    path = osp.normpath(osp.abspath(path))
    if osp.isfile(path):  # <work dir>/<timestamp>/vis_data/scalars.json
        path = osp.dirname(osp.dirname(osp.dirname(path)))
    return osp.basename(path)
