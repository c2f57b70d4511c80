"""MMEngine plugins that benchmark configs import: label noise and per-epoch training curves.

Importing the package registers ``NoisyLabelDataset`` and ``TrainingCurveHook``
with MMEngine, so configs may list ``arsam.tasks.benchmarks`` in ``custom_imports``.
The command-line and report code of the benchmarks lives in ``arsam.tools.benchmarking``.
"""

from .label_noise import NoisyLabelDataset, symmetric_noise
from .training_curve import TrainingCurveHook

__all__ = ["NoisyLabelDataset", "TrainingCurveHook", "symmetric_noise"]
