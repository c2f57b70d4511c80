"""Multi-tensor helpers shared by the optimizers: norms and finiteness without host syncs."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn.utils import get_total_norm

from .sharded import copy_shards, global_l2_norm, is_sharded

# torch's get_total_norm returns a norm in its tensors' dtype, and a float16 norm overflows
# at 65504 (a gradient scaled by GradScaler passes that easily): these enter as float32 norms.
_NARROW = (torch.float16, torch.bfloat16)


def l2_norm(tensors: Sequence[Tensor]) -> Tensor:
    """The L2 norm of all ``tensors`` together: a 0-dim tensor on their device, float32 or float64.

    ``torch.nn.utils.get_total_norm`` computes it (one foreach call per device and dtype,
    no host synchronisation). float16 and bfloat16 tensors enter as their norms summed in
    float32; with float64 tensors among them the norm is float64. DTensors (FSDP2) give
    the global norm over every rank's shards, a plain tensor equal on all ranks
    (core/sharded.py).
    """
    tensors = list(tensors)
    if any(map(is_sharded, tensors)):
        return global_l2_norm(tensors, l2_norm)
    narrow = [t for t in tensors if t.dtype in _NARROW]
    if narrow:
        tensors = [t for t in tensors if t.dtype not in _NARROW]
        tensors += torch._foreach_norm(narrow, 2, dtype=torch.float32)
    return get_total_norm(tensors)


def copy_tensors(out: Sequence[Tensor], source: Sequence[Tensor]) -> None:
    """out := source, tensor by tensor (one foreach call; DTensors shard by shard)."""
    if out and is_sharded(out[0]):
        copy_shards(out, source)
    else:
        torch._foreach_copy_(out, source)


def is_finite(value: Tensor) -> bool:
    """Whether a 0-dim tensor is finite (reads it on the host: one synchronisation)."""
    return bool(torch.isfinite(value).item())
