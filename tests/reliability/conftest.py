"""Helpers for the reliability tests: run a module of this folder in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_module(module: str, *args: str, timeout: int = 600) -> dict:
    """Run ``python -m module args`` (one thread, repository on the path); its JSON summary."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT)
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no summary (exit {done.returncode}):\n{done.stderr[-4000:]}"
    return json.loads(lines[-1])
