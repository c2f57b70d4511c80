"""ARSAM, SAM and the peers ARSAM is measured against (torch only).

Every method is a ``TwoPassOptimizer`` (core/two_pass.py) with a ``StepRule``
(core/rule.py); ``arsam.core.registry`` names them for configs, tools and tests. The
MMEngine adapter lives in arsam.core.mmengine_adapter.
"""

from .ae_sam import AESAM
from .arsam import ARSAM, ARSAMPaper
from .arsam_schedule import PaperSchedule
from .esam import ESAM
from .frozen_stats import FrozenStatistics, register_statistics_freezer, restore_buffers_afterwards
from .horizon_schedule import HorizonSchedule
from .late_sam import LateSAM
from .looksam import LookSAM
from .momentum_sam import MomentumSAM
from .registry import TWO_PASS_METHODS, MethodSpec, build_method, register_method
from .rst import RandomSAM
from .rule import StepRule
from .sam import SAM
from .sam_k import SAMK
from .two_pass import TwoPassOptimizer

__all__ = [
    "AESAM",
    "ARSAM",
    "ESAM",
    "SAM",
    "SAMK",
    "TWO_PASS_METHODS",
    "ARSAMPaper",
    "FrozenStatistics",
    "HorizonSchedule",
    "LateSAM",
    "LookSAM",
    "MethodSpec",
    "MomentumSAM",
    "PaperSchedule",
    "RandomSAM",
    "StepRule",
    "TwoPassOptimizer",
    "build_method",
    "register_method",
    "register_statistics_freezer",
    "restore_buffers_afterwards",
]
