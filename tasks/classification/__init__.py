"""Image classification on CIFAR-10/100 and scikit-learn digits, run through MMEngine."""

from .accuracy import TOP1_KEY, Accuracy
from .datasets import (
    CIFAR10Dataset,
    CIFAR100Dataset,
    Cutout,
    DigitsDataset,
    PackClsInputs,
    RandomHorizontalFlip,
    RandomPadCrop,
    make_fake_cifar,
)
from .models import (
    CifarResNet,
    ClsDataPreprocessor,
    ImageClassifier,
    PyramidNet,
    WideResNet,
)
from .visualization import ClsVisualizationHook

__all__ = [
    "TOP1_KEY",
    "Accuracy",
    "CIFAR10Dataset",
    "CIFAR100Dataset",
    "CifarResNet",
    "ClsDataPreprocessor",
    "ClsVisualizationHook",
    "Cutout",
    "DigitsDataset",
    "ImageClassifier",
    "PackClsInputs",
    "PyramidNet",
    "RandomHorizontalFlip",
    "RandomPadCrop",
    "WideResNet",
    "make_fake_cifar",
]
