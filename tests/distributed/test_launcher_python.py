"""The launchers run the interpreter of the copy they belong to, a checkout's or an install's."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAUNCHERS = ("dist_train.sh", "dist_test.sh", "slurm_train.sh", "slurm_test.sh", "launcher_env.sh")


def stand_in(path: Path) -> Path:
    """An executable at ``path`` that prints its own path and PYTHONPATH."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('#!/usr/bin/env bash\necho "$0"\necho "PYTHONPATH=${PYTHONPATH:-}"\n')
    path.chmod(0o755)
    return path


def launch(tools: Path) -> list[str]:
    """dist_train.sh from ``tools`` with PYTHON unset and no python3 on PATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "PYTHONPATH")}
    env["PATH"] = "/usr/bin:/bin"
    done = subprocess.run(
        ["bash", str(tools / "dist_train.sh"), "c.py", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def copy_launchers(tools: Path) -> None:
    tools.mkdir(parents=True)
    for name in LAUNCHERS:
        shutil.copy2(ROOT / "tools" / name, tools / name)


def test_a_checkout_runs_its_own_venv_with_itself_on_the_path(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    copy_launchers(checkout / "tools")
    (checkout / "arsam").mkdir()
    (checkout / "arsam" / "__init__.py").write_text("")
    python = stand_in(checkout / ".venv" / "bin" / "python")
    printed = launch(checkout / "tools")
    assert printed == [str(python), f"PYTHONPATH={checkout}"]


def test_an_install_runs_the_python_of_its_environment(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    copy_launchers(prefix / "lib" / "python3.11" / "site-packages" / "arsam" / "tools")
    python = stand_in(prefix / "bin" / "python")
    tools = prefix / "lib" / "python3.11" / "site-packages" / "arsam" / "tools"
    assert launch(tools) == [str(python), "PYTHONPATH="]
