"""ARSAM and SAM optimizers (torch only). The MMEngine adapter lives in core.mmengine_adapter."""

from .arsam import ARSAM
from .arsam_schedule import ARSAMSchedule
from .frozen_stats import FrozenStatistics, register_statistics_freezer, restore_buffers_afterwards
from .sam import SAM

__all__ = [
    "ARSAM",
    "SAM",
    "ARSAMSchedule",
    "FrozenStatistics",
    "register_statistics_freezer",
    "restore_buffers_afterwards",
]
