"""Evidence workloads: small CPU problems on which SAM clearly beats its base optimizer.

Each workload (``workloads.py``) fixes data, model, base optimizer and hyper-parameters for
every optimizer; ``trainer.train_one`` trains one run in plain PyTorch and ``suite.run_suite``
runs a grid of them in worker processes. ``python tools/compare.py --suite`` runs the suite and
writes its report; ``python tools/demo.py`` is the main job on the strongest workload.
"""

from .compared import (
    QUICK_OPTIMIZERS,
    OptimizerSpec,
    build_optimizer,
    check_names,
    optimizer_class,
    optimizer_spec,
    suite_optimizers,
)
from .data import DataSpec, Tensors, load_tensors
from .suite import read_records, run_suite
from .trainer import train_one
from .workloads import HORIZON_NAMES, QUICK_HORIZONS, WORKLOADS, Workload, get_workload

__all__ = [
    "HORIZON_NAMES",
    "QUICK_HORIZONS",
    "QUICK_OPTIMIZERS",
    "WORKLOADS",
    "DataSpec",
    "OptimizerSpec",
    "Tensors",
    "Workload",
    "build_optimizer",
    "check_names",
    "get_workload",
    "load_tensors",
    "optimizer_class",
    "optimizer_spec",
    "read_records",
    "run_suite",
    "suite_optimizers",
    "train_one",
]
