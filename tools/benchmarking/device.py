"""Device helpers for timing: synchronisation, peak memory and the host-sync debug mode."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


def is_cuda(device: torch.device) -> bool:
    """Whether ``device`` is a CUDA device."""
    return torch.device(device).type == "cuda"


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels on CUDA; nothing elsewhere."""
    if is_cuda(device):
        torch.cuda.synchronize(device)


def start_peak_tracking(device: torch.device) -> int:
    """Reset the CUDA peak counter and return the bytes allocated now (0 off CUDA)."""
    if not is_cuda(device):
        return 0
    torch.cuda.reset_peak_memory_stats(device)
    return torch.cuda.memory_allocated(device)


def peak_since(device: torch.device, baseline: int) -> int | None:
    """Peak bytes allocated above ``baseline`` since ``start_peak_tracking`` (None off CUDA)."""
    if not is_cuda(device):
        return None
    return torch.cuda.max_memory_allocated(device) - baseline


@contextmanager
def host_syncs_forbidden(device: torch.device) -> Iterator[None]:
    """On CUDA, make every implicit host-device synchronisation in the block raise."""
    if not is_cuda(device):
        yield
        return
    previous = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode(previous)
