"""Check, before training starts, that a pose config's data and pretrained weights exist."""

from __future__ import annotations

import os
import os.path as osp
import socket
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlparse

STAGES = {
    "train": (("train_dataloader", "val_dataloader"), ("val_evaluator",)),
    "test": (("test_dataloader",), ("test_evaluator",)),
}

LAYOUT_HINTS = {
    "CocoDataset": (
        "COCO goes under data/coco/ as annotations/person_keypoints_{train,val}2017.json, "
        "train2017/, val2017/ and person_detection_results/"
        "COCO_val2017_detections_AP_H_56_person.json (images and annotations from "
        "cocodataset.org, the detection results from MMPose's COCO dataset page)"
    ),
    "MpiiDataset": (
        "MPII goes under data/mpii/ as annotations/mpii_{train,val}.json, "
        "annotations/mpii_gt_val.mat and images/ (converted annotations from MMPose's "
        "MPII dataset page, images from the MPII Human Pose site)"
    ),
}
DEMO_HINT = (
    "to try the pipeline without downloading anything, run "
    "`python -m arsam.tasks.pose.synthetic_coco --out data/coco_synthetic` and train "
    "configs/pose/hrnet_arsam_synthetic.py"
)


@dataclass(frozen=True)
class MissingCheckpoint:
    """A pretrained checkpoint that is neither on disk nor reachable."""

    key: str
    source: str
    cached_path: str | None
    reason: str


def preflight(cfg: Mapping, stage: str = "train") -> None:
    """Raise FileNotFoundError with one explanatory paragraph if data or weights are missing.

    ``stage='train'`` checks the training and validation data and the pretrained weights;
    ``stage='test'`` checks the test data only (a tested checkpoint replaces the weights).
    """
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {sorted(STAGES)}, got {stage!r}")
    missing_files, dataset_types = missing_data_files(cfg, stage)
    missing_weights = missing_checkpoints(cfg) if stage == "train" else []
    if not missing_files and not missing_weights:
        return
    parts = []
    if missing_files:
        hints = [LAYOUT_HINTS[t] for t in sorted(dataset_types) if t in LAYOUT_HINTS]
        where = f"; {'; '.join(hints)}" if hints else ""
        parts.append(
            f"Pose data not found: {', '.join(missing_files)} (paths relative to "
            f"{os.getcwd()}){where}. Put the files there, or point the config elsewhere with "
            f"--cfg-options (e.g. {STAGES[stage][0][0]}.dataset.data_root=...); {DEMO_HINT}."
        )
    for item in missing_weights:
        if item.cached_path:
            status = (
                f"is not cached at {item.cached_path} and cannot be downloaded ({item.reason}); "
                f"download it on a machine with internet access and copy it there"
            )
        else:
            status = f"cannot be read ({item.reason}); put the file there"
        parts.append(
            f"Pretrained checkpoint {item.source} ({item.key}) {status}, or switch pretraining "
            f"off with `--cfg-options {item.key}=None` (training then starts from random "
            "weights and reaches a lower accuracy)."
        )
    raise FileNotFoundError(" ".join(parts))


def missing_data_files(cfg: Mapping, stage: str = "train") -> tuple[list[str], set[str]]:
    """Paths a stage's datasets and evaluators read that do not exist, and the dataset types."""
    missing: list[str] = []
    types: set[str] = set()
    loaders, evaluators = STAGES[stage]
    for section in loaders:
        loader = cfg.get(section)
        if isinstance(loader, Mapping) and isinstance(loader.get("dataset"), Mapping):
            for dataset in _datasets(loader["dataset"]):
                types.add(str(dataset.get("type", "")))
                missing.extend(osp.normpath(p) for p in dataset_paths(dataset) if not osp.exists(p))
    for section in evaluators:
        for evaluator in _as_list(cfg.get(section)):
            path = evaluator.get("ann_file") if isinstance(evaluator, Mapping) else None
            if path and not osp.exists(path):
                missing.append(osp.normpath(path))
    return list(dict.fromkeys(missing)), types


def dataset_paths(dataset: Mapping) -> list[str]:
    """Files and folders one MMPose dataset config reads, resolved as MMEngine resolves them."""
    root = dataset.get("data_root") or ""
    paths = []
    if dataset.get("ann_file"):
        paths.append(_join(root, dataset["ann_file"]))
    prefix = dataset.get("data_prefix") or {}
    paths.extend(_join(root, p) for p in prefix.values() if p)
    paths.extend(dataset[key] for key in ("bbox_file", "headbox_file") if dataset.get(key))
    return paths


def missing_checkpoints(cfg: Mapping) -> list[MissingCheckpoint]:
    """Pretrained initialisations in ``cfg.model`` that are neither local nor downloadable."""
    missing = []
    for key, source in pretrained_sources(cfg.get("model") or {}, "model"):
        problem = checkpoint_problem(source)
        if problem is not None:
            missing.append(MissingCheckpoint(key, source, *problem))
    return missing


def pretrained_sources(node: object, key: str) -> Iterator[tuple[str, str]]:
    """Yield (config key to switch off, checkpoint) for every 'Pretrained' init_cfg."""
    if isinstance(node, Mapping):
        for name, value in node.items():
            child = f"{key}.{name}"
            if name == "init_cfg":
                for init in _as_list(value):
                    if isinstance(init, Mapping) and init.get("type") == "Pretrained":
                        yield child, str(init.get("checkpoint"))
            else:
                yield from pretrained_sources(value, child)
    elif isinstance(node, list | tuple):
        for index, value in enumerate(node):
            yield from pretrained_sources(value, f"{key}.{index}")


def checkpoint_problem(source: str) -> tuple[str | None, str] | None:
    """None if ``source`` can be loaded, else (local cache path or None, reason)."""
    url = resolve_checkpoint_url(source)
    if url is None:
        return None if osp.isfile(osp.expanduser(source)) else (None, "no such local file")
    import torch.hub

    cached = osp.join(torch.hub.get_dir(), "checkpoints", osp.basename(urlparse(url).path))
    if osp.isfile(cached):
        return None
    reason = url_unreachable(url)
    return None if reason is None else (cached, reason)


def resolve_checkpoint_url(source: str) -> str | None:
    """The download URL MMEngine uses for ``source``, or None for a local path."""
    if source.startswith(("http://", "https://")):
        return source
    if source.startswith(("torchvision://", "modelzoo://")):
        from mmengine.runner.checkpoint import get_torchvision_models

        return get_torchvision_models()[source.split("://", 1)[1]]
    if source.startswith(("open-mmlab://", "openmmlab://")):
        from mmengine.runner.checkpoint import get_external_models

        url = get_external_models()[source.split("://", 1)[1]]
        return url if url.startswith(("http://", "https://")) else None
    return None


def url_unreachable(url: str, timeout: float = 3.0) -> str | None:
    """None if a TCP connection to the URL's host opens within ``timeout`` seconds, else why."""
    parts = urlparse(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return None
    except OSError as error:
        return f"{parts.hostname}:{port} unreachable: {error}"


def _datasets(dataset: Mapping) -> Iterator[Mapping]:
    """The leaf dataset configs inside wrappers such as RepeatDataset or CombinedDataset."""
    children = [dataset["dataset"]] if isinstance(dataset.get("dataset"), Mapping) else []
    children += [d for d in _as_list(dataset.get("datasets")) if isinstance(d, Mapping)]
    if not children:
        yield dataset
    for child in children:
        yield from _datasets(child)


def _as_list(value: object) -> list:
    """``value`` as a list (None becomes empty)."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _join(root: str, path: str) -> str:
    """Join ``path`` to ``root`` unless it is absolute or a URL, as MMEngine does."""
    if not root or osp.isabs(path) or "://" in path:
        return path
    return osp.join(root, path)


def main(argv: Sequence[str] | None = None) -> int:
    """Check configs: ``python -m arsam.tasks.pose.prerequisites CONFIG...``."""
    import argparse

    from mmengine.config import Config

    parser = argparse.ArgumentParser(description=preflight.__doc__)
    parser.add_argument("configs", nargs="+")
    parser.add_argument("--stage", choices=sorted(STAGES), default="train")
    args = parser.parse_args(argv)
    status = 0
    for path in args.configs:
        try:
            preflight(Config.fromfile(path), args.stage)
        except FileNotFoundError as error:
            print(f"{path}: {error}", file=sys.stderr)
            status = 2
        else:
            print(f"{path}: data and pretrained weights found")
    return status


if __name__ == "__main__":
    sys.exit(main())
