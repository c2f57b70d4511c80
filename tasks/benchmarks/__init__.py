"""Cost and accuracy comparisons of SGD, SAM, ARSAM and the peers.

Importing the package registers ``NoisyLabelDataset`` and ``TrainingCurveHook``
with MMEngine, so configs may list ``tasks.benchmarks`` in ``custom_imports``.
"""

from .label_noise import NoisyLabelDataset, symmetric_noise
from .memory import optimizer_state_bytes, parameter_bytes, tensor_bytes
from .training_curve import TrainingCurveHook

__all__ = [
    "NoisyLabelDataset",
    "TrainingCurveHook",
    "optimizer_state_bytes",
    "parameter_bytes",
    "symmetric_noise",
    "tensor_bytes",
]
