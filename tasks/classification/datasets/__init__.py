"""Datasets, transforms and a fake-CIFAR writer for the classification task."""

from .cifar import CIFAR10Dataset, CIFAR100Dataset, missing_cifar_message
from .digits import DigitsDataset, digits_split
from .fake_cifar import make_fake_cifar
from .procedural import PROCEDURAL_CLASSES, ProceduralDataset, procedural_images
from .transforms import Cutout, PackClsInputs, RandomHorizontalFlip, RandomPadCrop

__all__ = [
    "PROCEDURAL_CLASSES",
    "CIFAR10Dataset",
    "CIFAR100Dataset",
    "Cutout",
    "DigitsDataset",
    "PackClsInputs",
    "ProceduralDataset",
    "RandomHorizontalFlip",
    "RandomPadCrop",
    "digits_split",
    "make_fake_cifar",
    "missing_cifar_message",
    "procedural_images",
]
