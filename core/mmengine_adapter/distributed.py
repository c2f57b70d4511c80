"""Distributed training on machines without CUDA (gloo), for tests and CPU clusters.

MMEngine's launcher calls ``torch.cuda.set_device`` unconditionally and wraps
the model with ``device_ids=[LOCAL_RANK]``, both of which fail without a GPU.
``prepare_cpu_distributed`` starts the gloo process group itself (the Runner
then skips its own start) and selects a DDP wrapper that leaves device_ids
out for CPU modules. ``env_cfg.dist_cfg.timeout`` (seconds, as for MMEngine's GPU launch) bounds
every collective: a rank that stops answering makes the others fail after that long
instead of waiting forever.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """MMDistributedDataParallel for modules on the CPU (no device_ids)."""

    def __init__(self, module: torch.nn.Module, device_ids: Any = None, **kwargs: Any) -> None:
        super().__init__(module=module, device_ids=None, **kwargs)


def collective_timeout(cfg: Config) -> timedelta | None:
    """``env_cfg.dist_cfg.timeout`` (seconds) as the process group's timeout, if given."""
    seconds = ((cfg.get("env_cfg") or {}).get("dist_cfg") or {}).get("timeout")
    return None if seconds is None else timedelta(seconds=float(seconds))


def prepare_cpu_distributed(cfg: Config) -> None:
    """Start gloo and pick the CPU DDP wrapper when launched with --launcher pytorch and no GPU."""
    if cfg.get("launcher", "none") == "none" or torch.cuda.is_available():
        return
    needed = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    missing = [k for k in needed if k not in os.environ]
    if missing:
        raise RuntimeError(
            f"--launcher pytorch needs the variables torchrun sets ({', '.join(missing)} "
            "missing): start with tools/dist_train.sh CONFIG N or torchrun"
        )
    if not dist.is_initialized():
        dist.init_process_group(backend="gloo", timeout=collective_timeout(cfg))
    wrapper = dict(cfg.get("model_wrapper_cfg") or {})
    wrapper["type"] = "CPUDistributedDataParallel"
    cfg.model_wrapper_cfg = wrapper
