"""ARSAM, SAM and the peers ARSAM is measured against (torch only).

The MMEngine adapter lives in core.mmengine_adapter.
"""

from .ae_sam import AESAM
from .arsam import ARSAM
from .arsam_schedule import ARSAMSchedule
from .frozen_stats import FrozenStatistics, register_statistics_freezer, restore_buffers_afterwards
from .looksam import LookSAM
from .rst import RandomSAM
from .sam import SAM
from .sam_k import SAMK
from .selective_sam import SelectiveSAM

__all__ = [
    "AESAM",
    "ARSAM",
    "SAM",
    "SAMK",
    "ARSAMSchedule",
    "FrozenStatistics",
    "LookSAM",
    "RandomSAM",
    "SelectiveSAM",
    "register_statistics_freezer",
    "restore_buffers_afterwards",
]
