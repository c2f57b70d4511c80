"""Quantization-aware training (Brevitas) of CIFAR ResNets, run through MMEngine.

Importing the package registers ``QuantCifarResNet`` in MMEngine's MODELS and
Brevitas' statistics-collecting modules with the second-pass freeze of
``arsam.core.frozen_stats``.
"""

from . import frozen_calibration
from .export import QuantizedTensor, export_qcdq, quantized_tensors
from .float_init import float_state_dict, load_float_weights
from .frozen_calibration import calibration_counters
from .recipe import QuantRecipe
from .resnet import QuantBasicBlock, QuantCifarResNet

__all__ = [
    "QuantBasicBlock",
    "QuantCifarResNet",
    "QuantRecipe",
    "QuantizedTensor",
    "calibration_counters",
    "export_qcdq",
    "float_state_dict",
    "frozen_calibration",
    "load_float_weights",
    "quantized_tensors",
]
