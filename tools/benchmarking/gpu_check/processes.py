"""Child processes under a time limit, and what they leave behind: logs and JSON results."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Sequence
from typing import Any

from .settings import LOG_TAIL_LINES, REPO, TINY_ENV


def child_env() -> dict[str, str]:
    """The environment of a child process: this checkout first on the import path.

    Tiny runs use one CPU thread per process: tiny models gain nothing from more, and
    spinning threads slow a shared machine down.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (REPO, env.get("PYTHONPATH")) if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    if env.get(TINY_ENV) == "1":
        env["OMP_NUM_THREADS"] = "1"
    return env


def run_command(
    command: Sequence[str], log_path: str, timeout: float, own_group: bool = False
) -> int | None:
    """Run ``command`` from the repository root, output to ``log_path``; None on timeout.

    ``own_group`` starts it in a new process group and ends the whole group on timeout
    (its own children included).
    """
    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            list(command),
            cwd=REPO,
            env=child_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=own_group,
        )
        try:
            return process.wait(timeout=max(1.0, timeout))
        except subprocess.TimeoutExpired:
            if own_group:
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
            process.wait()
            return None


def tail(path: str, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last ``lines`` lines of a text file (empty when it is missing)."""
    try:
        with open(path, errors="replace") as handle:
            return [line.rstrip("\n") for line in handle.readlines()[-lines:]]
    except OSError:
        return []


def read_json_or_none(path: str) -> Any:
    """The JSON document at ``path``, or None when it is missing or unreadable (a killed child)."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, json.JSONDecodeError):
        return None


def exit_description(program: str, code: int | None) -> str:
    """'<program> timed out' or '<program> exit <code>'."""
    return f"{program} {'timed out' if code is None else f'exit {code}'}"
