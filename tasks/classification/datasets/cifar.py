"""CIFAR-10 and CIFAR-100 read by torchvision's dataset classes, with an MMEngine pipeline."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from mmengine.dataset import Compose
from mmengine.registry import DATASETS
from torch.utils.data import Dataset
from torchvision.datasets import CIFAR10, CIFAR100

CIFAR_MEAN = {
    "cifar10": (125.307, 122.961, 113.8575),
    "cifar100": (129.304, 124.070, 112.434),
}
CIFAR_STD = {
    "cifar10": (62.9932, 62.0887, 66.7048),
    "cifar100": (68.170, 65.392, 70.418),
}


def _skipping_checksums(cls: type[CIFAR10]) -> type[CIFAR10]:
    """The torchvision class with its MD5 checks switched off (files must still exist)."""
    return type(
        f"{cls.__name__}NoChecksum",
        (cls,),
        {
            "train_list": [[name, None] for name, _ in cls.train_list],
            "test_list": [[name, None] for name, _ in cls.test_list],
            "meta": {**cls.meta, "md5": None},
        },
    )


def missing_cifar_message(name: str, root: str) -> str:
    """Explain where the CIFAR files were expected and how to get them."""
    source = CIFAR100 if name == "cifar100" else CIFAR10
    folder = os.path.join(os.path.abspath(root), source.base_folder)
    files = [entry[0] for entry in source.train_list + source.test_list] + [source.meta["filename"]]
    return (
        f"{name.upper()} not found or incomplete: expected the directory {folder} holding "
        f"{', '.join(files)}. Download and extract {source.url} into {os.path.abspath(root)} "
        f'(e.g. `python -c "import torchvision; torchvision.datasets.{source.__name__}'
        f"('{root}', download=True)\"`), or set download=True in the dataset config."
    )


class _CifarBase(Dataset):
    """Shared body of the two CIFAR datasets."""

    name = "cifar10"
    source: type[CIFAR10] = CIFAR10

    def __init__(
        self,
        data_root: str,
        split: str = "train",
        pipeline: list | None = None,
        download: bool = False,
        verify_checksums: bool = True,
    ) -> None:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        folder = os.path.join(data_root, self.source.base_folder)
        if not download and not os.path.isdir(folder):
            raise FileNotFoundError(missing_cifar_message(self.name, data_root))
        source = self.source if verify_checksums else _skipping_checksums(self.source)
        try:
            data = source(data_root, train=split == "train", download=download)
        except RuntimeError as error:
            raise FileNotFoundError(missing_cifar_message(self.name, data_root)) from error
        self.data_root = data_root
        self.split = split
        self.images: np.ndarray = data.data
        self.labels = np.asarray(data.targets, dtype=np.int64)
        self.metainfo = {"classes": tuple(data.classes)}
        self.pipeline = Compose(pipeline or [dict(type="PackClsInputs")])

    def __len__(self) -> int:
        """Number of images in the split."""
        return len(self.labels)

    def __getitem__(self, index: int) -> Any:
        """One sample through the pipeline."""
        return self.pipeline({"img": self.images[index], "gt_label": int(self.labels[index])})


@DATASETS.register_module()
class CIFAR10Dataset(_CifarBase):
    """CIFAR-10 (``data_root/cifar-10-batches-py``) as 32x32x3 uint8 images and labels 0-9."""

    name = "cifar10"
    source = CIFAR10


@DATASETS.register_module()
class CIFAR100Dataset(_CifarBase):
    """CIFAR-100 (``data_root/cifar-100-python``) with its 100 fine labels."""

    name = "cifar100"
    source = CIFAR100
