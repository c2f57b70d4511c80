"""Datasets, transforms and a fake-CIFAR writer for the classification task."""

from .cifar import CIFAR10Dataset, CIFAR100Dataset, missing_cifar_message
from .digits import DigitsDataset, digits_split
from .fake_cifar import make_fake_cifar
from .transforms import Cutout, PackClsInputs, RandomHorizontalFlip, RandomPadCrop

__all__ = [
    "CIFAR10Dataset",
    "CIFAR100Dataset",
    "Cutout",
    "DigitsDataset",
    "PackClsInputs",
    "RandomHorizontalFlip",
    "RandomPadCrop",
    "digits_split",
    "make_fake_cifar",
    "missing_cifar_message",
]
