"""A fresh virtual environment that reuses this one's dependencies, and a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path


def clean_env() -> dict[str, str]:
    """This environment without PYTHONPATH/PYTHONHOME (the checkout must not leak in)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def fresh_venv(folder: Path) -> tuple[Path, Path]:
    """A virtual environment that sees this one's dependencies but not its .pth files."""
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(purelib, "reuse_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python, Path(purelib)
