"""Multi-tensor helpers shared by the optimizers: norms and finiteness without host syncs."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def l2_norm(tensors: Sequence[Tensor]) -> Tensor:
    """The L2 norm of all ``tensors`` taken together, as a 0-dim float32 tensor on their device."""
    if len(tensors) == 0:
        return torch.zeros((), dtype=torch.float32)
    device = tensors[0].device
    norms = torch._foreach_norm(list(tensors), 2, dtype=torch.float32)
    if any(n.device != device for n in norms):
        norms = [n.to(device) for n in norms]
    return torch.linalg.vector_norm(torch.stack(norms))


def is_finite(value: Tensor) -> bool:
    """Whether a 0-dim tensor is finite (reads it on the host: one synchronisation)."""
    return bool(torch.isfinite(value).item())
