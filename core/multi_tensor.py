"""Multi-tensor helpers shared by the optimizers: norms and finiteness without host syncs."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils._foreach_utils import _group_tensors_by_device_and_dtype

from .sharded import copy_shards, global_l2_norm, is_sharded

# Low-precision floats are summed in float32 (their squares overflow float16 quickly).
_SUMMED_IN_FLOAT32 = (torch.float16, torch.bfloat16, torch.float32)


def l2_norm(tensors: Sequence[Tensor]) -> Tensor:
    """The L2 norm of all ``tensors`` together: a 0-dim tensor on their device, float32 or float64.

    float16, bfloat16 and float32 tensors are summed in float32 (one foreach call); when
    float64 tensors are among them, the norm is float64, each dtype summed in its own
    precision as torch's optimizers group them. DTensors (FSDP2) give the global norm over
    every rank's shards, a plain tensor equal on all ranks (core/sharded.py).
    """
    if len(tensors) == 0:
        return torch.zeros((), dtype=torch.float32)
    if is_sharded(tensors[0]):
        return global_l2_norm(tensors, l2_norm)
    device = tensors[0].device
    try:
        norms = torch._foreach_norm(list(tensors), 2, dtype=torch.float32)
    except RuntimeError:  # float64 cannot be summed into float32 without narrowing
        if any(is_sharded(t) for t in tensors):  # DTensors behind a plain first tensor
            return global_l2_norm(tensors, l2_norm)
        return _l2_norm_by_dtype(list(tensors), device)
    if any(n.device != device for n in norms):
        norms = [n.to(device) for n in norms]
    return torch.linalg.vector_norm(torch.stack(norms))


def _l2_norm_by_dtype(tensors: list[Tensor], device: torch.device) -> Tensor:
    """``l2_norm`` for lists with float64 tensors: one foreach call per device and dtype."""
    partial_norms = []
    grouped = _group_tensors_by_device_and_dtype([tensors])
    for (_, dtype), ((group,), _) in grouped.items():
        summed_in = torch.float32 if dtype in _SUMMED_IN_FLOAT32 else dtype
        norms = torch._foreach_norm(group, 2, dtype=summed_in)
        partial_norms.append(torch.linalg.vector_norm(torch.stack(norms)))
    wide = functools.reduce(torch.promote_types, (n.dtype for n in partial_norms))
    return torch.linalg.vector_norm(torch.stack([n.to(device, wide) for n in partial_norms]))


def copy_tensors(out: Sequence[Tensor], source: Sequence[Tensor]) -> None:
    """out := source, tensor by tensor (one foreach call; DTensors shard by shard)."""
    if out and is_sharded(out[0]):
        copy_shards(out, source)
    else:
        torch._foreach_copy_(out, source)


def is_finite(value: Tensor) -> bool:
    """Whether a 0-dim tensor is finite (reads it on the host: one synchronisation)."""
    return bool(torch.isfinite(value).item())
