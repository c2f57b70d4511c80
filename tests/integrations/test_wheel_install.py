"""The wheel installs one import package, arsam, beside a distribution that ships core/ and tools/.

The wheel is built from a copy of the sources (``pip wheel --no-deps --no-build-isolation``) and
installed with ``--no-deps --no-index`` into a fresh virtual environment that reuses this one's
installed dependencies through a ``.pth`` line (a plain path: this environment's own ``.pth``
files, such as the checkout's editable install, are not read there), after a decoy wheel whose
top-level packages are ``core`` and ``tools``. Neither side may break the other, before or after
the decoy is uninstalled.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from .venvs import clean_env, fresh_venv

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("arsam", "core", "tasks", "tools", "configs")
FILES = ("pyproject.toml", "setup.py", "README.md", "LICENSE")
DECOY = {"core/__init__.py": "DECOY = 'core'\n", "tools/__init__.py": "DECOY = 'tools'\n"}

BESIDE_THE_DECOY = """
import sys
from pathlib import Path

import core
import tools

assert (core.DECOY, tools.DECOY) == ("core", "tools"), "the decoy's packages were overwritten"

import arsam
from arsam import ARSAM

import arsam.core.mmengine_adapter
from mmengine.hub import get_config

purelib = Path(sys.argv[1]).resolve()
assert Path(arsam.__file__).resolve().is_relative_to(purelib), arsam.__file__
assert list(arsam.__path__) == [str(Path(arsam.__file__).parent)], arsam.__path__
assert ARSAM.__module__ == "arsam.core.arsam", ARSAM.__module__
cfg = get_config("arsam::classification/digits_arsam.py")
assert cfg.optim_wrapper.optimizer.type == "ARSAM", cfg.optim_wrapper
assert Path(cfg.filename).resolve().is_relative_to(purelib), cfg.filename
assert Path(arsam.config_path("pose/hrnet_arsam_synthetic.py")).is_file()
mixed = sorted(m for m in sys.modules if m.split(".")[0] in ("core", "tools") and "." in m)
assert not mixed, f"arsam imported modules of the decoy's top-level names: {mixed}"
print("VERSION", arsam.__version__)
"""

AFTER_THE_DECOY = """
import importlib.util

from arsam import ARSAM
import arsam.core.mmengine_adapter
import arsam.tools.cli

assert importlib.util.find_spec("core") is None and importlib.util.find_spec("tools") is None
print("OK", ARSAM.__name__)
"""


def record_line(path: str, data: bytes) -> str:
    """A RECORD row: path, urlsafe sha256 without padding, size."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def decoy_wheel(folder: Path) -> Path:
    """A minimal wheel of a distribution 'generic-names' whose packages are core and tools."""
    info = "generic_names-1.0.dist-info"
    files = {
        **{path: text.encode() for path, text in DECOY.items()},
        f"{info}/METADATA": b"Metadata-Version: 2.1\nName: generic-names\nVersion: 1.0\n",
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        f"{info}/top_level.txt": b"core\ntools\n",
    }
    rows = [record_line(path, data) for path, data in files.items()] + [f"{info}/RECORD,,"]
    wheel = folder / "generic_names-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
        archive.writestr(f"{info}/RECORD", "\n".join(rows) + "\n")
    return wheel


def build_wheel(folder: Path) -> Path:
    """The project's wheel, built from a copy of its sources (the checkout stays untouched)."""
    source = folder / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in SOURCES:
        shutil.copytree(ROOT / name, source / name, symlinks=True, ignore=ignore)
    for name in FILES:
        shutil.copy2(ROOT / name, source / name)
    out = folder / "wheels"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"),
            *("--no-index", "--no-cache-dir", "-w", str(out), str(source)),
        ],
        check=True,
        cwd=folder,
        env=clean_env(),
    )
    (wheel,) = out.glob("arsam_suite-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("build"))


def test_the_wheel_ships_arsam_alone_and_requires_torch_alone(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        top_level = archive.read(f"{info}/top_level.txt").decode().split()
        metadata = Parser().parsestr(archive.read(f"{info}/METADATA").decode())
        scripts = archive.read(f"{info}/entry_points.txt").decode()
        record = archive.read(f"{info}/RECORD").decode().splitlines()
    assert top_level == ["arsam"]
    assert {row.split("/")[0] for row in record} == {"arsam", info}
    required = [Requirement(r) for r in metadata.get_all("Requires-Dist")]
    assert [r.name for r in required if r.marker is None] == ["torch"]
    assert "arsam-train = arsam.tools.console:train" in scripts
    assert "arsam-test = arsam.tools.console:test" in scripts
    for package in ("core", "tasks", "tools"):
        in_repo = {
            p.relative_to(ROOT / package).as_posix()
            for p in (ROOT / package).rglob("*.py")
            if (p.parent / "__init__.py").is_file()
        }
        shipped = {n.split("/", 2)[2] for n in names if n.startswith(f"arsam/{package}/")}
        assert in_repo <= shipped, sorted(in_repo - shipped)
    configs = {p.relative_to(ROOT / "configs").as_posix() for p in (ROOT / "configs").rglob("*.py")}
    prefix = "arsam/.mim/configs/"
    assert configs == {n[len(prefix) :] for n in names if n.startswith(prefix)}
    assert {"arsam/py.typed", "arsam/.mim/model-index.yml", "arsam/tools/dist_train.sh"} <= set(
        names
    )


def test_installed_beside_a_decoy_neither_breaks(wheel: Path, tmp_path: Path) -> None:
    python, purelib = fresh_venv(tmp_path)
    env = clean_env()
    pip = [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--no-cache-dir"]
    subprocess.run([*pip, str(decoy_wheel(tmp_path))], check=True, env=env, cwd=tmp_path)
    subprocess.run([*pip, "--ignore-installed", str(wheel)], check=True, env=env, cwd=tmp_path)
    assert (purelib / "core" / "__init__.py").read_text() == DECOY["core/__init__.py"]

    # a user project with a core/ of its own, run from its folder
    project = tmp_path / "project"
    (project / "core").mkdir(parents=True)
    (project / "core" / "__init__.py").write_text("DECOY = 'core'\n")
    (project / "check.py").write_text(BESIDE_THE_DECOY)
    run = subprocess.run(
        [str(python), "check.py", str(purelib)],
        env=env,
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "VERSION 0.1.0" in run.stdout

    help_text = subprocess.run(
        [str(python.parent / "arsam-train"), "--help"], env=env, capture_output=True, text=True
    )
    assert help_text.returncode == 0 and "usage:" in help_text.stdout, help_text.stderr[-2000:]
    help_text = subprocess.run(
        [str(python.parent / "arsam-test"), "--help"], env=env, capture_output=True, text=True
    )
    assert help_text.returncode == 0 and "checkpoint" in help_text.stdout, help_text.stderr[-2000:]

    subprocess.run(
        [str(python), "-m", "pip", "uninstall", "-q", "-y", "generic-names"], check=True, env=env
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = subprocess.run(
        [str(python), "-c", AFTER_THE_DECOY], env=env, cwd=elsewhere, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "OK ARSAM"
