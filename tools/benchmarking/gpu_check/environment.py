"""The machine the check ran on: GPU, driver, torch, CUDA and cuDNN versions, the host."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from typing import Any


def nvidia_smi() -> str | None:
    """GPU name and driver version from nvidia-smi (None when it prints nothing)."""
    query = ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"]
    try:
        done = subprocess.run(query, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        return f"not readable: {error}"
    return done.stdout.strip() or None


def environment(device: str) -> dict[str, Any]:
    """GPU, driver, torch, CUDA and cuDNN versions, and the host."""
    import torch

    info: dict[str, Any] = {
        "device": device,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "python": platform.python_version(),
        "host_cpus": os.cpu_count(),
        "gpu": None,
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu_memory_gib"] = torch.cuda.get_device_properties(0).total_memory / 1024**3
    if shutil.which("nvidia-smi"):
        info["nvidia_smi"] = nvidia_smi()
    return info


def environment_lines(env: dict[str, Any]) -> list[str]:
    """The environment as two Markdown list items."""
    smi = f" ({env['nvidia_smi']})" if env.get("nvidia_smi") else ""
    return [
        f"- device: {env['device']}, GPU: {env.get('gpu') or 'none'}{smi}",
        f"- torch {env['torch']}, CUDA {env.get('cuda') or '-'}, cuDNN {env.get('cudnn') or '-'}, "
        f"Python {env['python']}, {env.get('host_cpus')} CPUs",
    ]
