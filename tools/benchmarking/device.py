"""The device: its record, synchronisation, peak memory and CUDA's host-sync debug mode."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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


@contextmanager
def host_syncs_seen(device: torch.device) -> Iterator[list[str]]:
    """On CUDA, sync debug mode 'warn' for the block; yields the sync warnings seen."""
    seen: list[str] = []
    if not is_cuda(device):
        yield seen
        return
    previous = torch.cuda.get_sync_debug_mode()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            yield seen
        finally:
            torch.cuda.set_sync_debug_mode(previous)
            torch.cuda.synchronize()
    seen.extend(str(w.message) for w in caught if "synchroniz" in str(w.message).lower())


def nvidia_smi() -> str | None:
    """GPU name and driver version from nvidia-smi (None when it prints nothing)."""
    query = ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"]
    try:
        done = subprocess.run(query, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        return f"not readable: {error}"
    return done.stdout.strip() or None


def environment(device: torch.device | str) -> dict[str, Any]:
    """The record of the machine: device, GPU, driver, torch, CUDA, cuDNN, Python, CPUs."""
    info: dict[str, Any] = {
        "device": str(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "threads": torch.get_num_threads(),
        "host_cpus": os.cpu_count(),
        "gpu": None,
    }
    if is_cuda(device) and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(device)
        info["gpu_memory_gib"] = torch.cuda.get_device_properties(device).total_memory / 1024**3
    if shutil.which("nvidia-smi"):
        info["nvidia_smi"] = nvidia_smi()
    return info


def environment_lines(env: dict[str, Any]) -> list[str]:
    """The environment record as two Markdown list items."""
    smi = f" ({env['nvidia_smi']})" if env.get("nvidia_smi") else ""
    return [
        f"- device: {env['device']}, GPU: {env.get('gpu') or 'none'}{smi}",
        f"- torch {env['torch']}, CUDA {env.get('cuda') or '-'}, cuDNN {env.get('cudnn') or '-'}, "
        f"Python {env['python']}, {env.get('host_cpus')} CPUs",
    ]
