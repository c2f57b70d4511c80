"""Bytes held by an optimizer beyond the parameters: its state, the base optimizer's, schedules."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import Tensor


def iter_tensors(obj: Any) -> Iterator[Tensor]:
    """Every tensor inside nested dicts, lists, tuples and sets."""
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from iter_tensors(value)
    elif isinstance(obj, (list, tuple, set)):
        for value in obj:
            yield from iter_tensors(value)


def tensor_bytes(tensors: Iterable[Tensor], seen: set[tuple] | None = None) -> int:
    """Total bytes of ``tensors``, each distinct tensor counted once (tracked in ``seen``)."""
    seen = set() if seen is None else seen
    total = 0
    for tensor in tensors:
        key = (tensor.device, tensor.data_ptr(), tensor.dtype, tuple(tensor.shape))
        if tensor.data_ptr() and key in seen:
            continue
        seen.add(key)
        total += tensor.numel() * tensor.element_size()
    return total


def parameter_bytes(params: Iterable[Tensor]) -> int:
    """Bytes of the parameters themselves."""
    return tensor_bytes(params)


def _schedule_tensors(optimizer: torch.optim.Optimizer) -> list[Tensor]:
    """Tensors a two-pass method's rule keeps outside ``state`` (e.g. ARSAM's statistics)."""
    rule = getattr(optimizer, "rule", None)
    if rule is None:
        return []
    own = {k: v for k, v in rule.state_dict().items() if k != "generator"}
    return list(iter_tensors(own))


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> dict[str, int]:
    """Bytes in ``optimizer.state``, ``base_optimizer.state``, schedule buffers, and their sum."""
    seen: set[tuple] = set()
    own = tensor_bytes(iter_tensors(dict(optimizer.state)), seen)
    base_optimizer = getattr(optimizer, "base_optimizer", None)
    base = 0
    if base_optimizer is not None and base_optimizer is not optimizer:
        base = tensor_bytes(iter_tensors(dict(base_optimizer.state)), seen)
    schedule = tensor_bytes(_schedule_tensors(optimizer), seen)
    return {"state": own, "base_state": base, "schedule": schedule, "total": own + base + schedule}
