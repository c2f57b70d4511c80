"""Classification networks, the MMEngine model around them and its data preprocessor."""

from .cifar_resnet import CifarResNet
from .data_preprocessor import ClsDataPreprocessor
from .image_classifier import ImageClassifier
from .pyramidnet import PyramidNet
from .wide_resnet import WideResNet

__all__ = [
    "CifarResNet",
    "ClsDataPreprocessor",
    "ImageClassifier",
    "PyramidNet",
    "WideResNet",
]
