"""Host-side pieces of the step schedules: seeded draws, linear interpolation, the one read.

The schedules decide every step on the host; these are the few operations they share.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def draw_uniforms(generator: torch.Generator, count: int) -> list[float]:
    """``count`` uniform draws from a CPU generator as host floats (no device is involved)."""
    return torch.rand(count, generator=generator).numpy().tolist()


def linear_schedule(start: float, end: float, step: int, total_steps: int) -> float:
    """start + (end - start) * min(step / total_steps, 1)."""
    return start + (end - start) * min(step / total_steps, 1.0)


def read_on_host(values: Tensor) -> list[float]:
    """``values`` as host floats, rank 0's on every rank: a schedule's one read per window."""
    if dist.is_available() and dist.is_initialized():
        dist.broadcast(values, src=0)
    # note: this is a CPU-GPU sync point, the schedule's one read per window
    return values.tolist()
