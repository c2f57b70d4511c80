"""The package as a user installs it: metadata, shipped configs, and README's example.

The install goes into a fresh virtual environment that reuses this one's installed
dependencies through a ``.pth`` line (a plain path: this environment's own ``.pth``
files, such as the checkout's editable install, are not read there), with
``pip install --no-build-isolation --no-deps --no-index`` from a copy of the sources,
so it needs no network. README's plain-PyTorch example then runs from a temporary
directory outside the checkout, where ``import arsam`` must resolve to the installed copy.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import tomllib
from packaging.requirements import Requirement

from .venvs import clean_env, fresh_venv

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("arsam", "core", "tasks", "tools", "configs")
SOURCES += ("pyproject.toml", "setup.py", "README.md", "LICENSE")

PRELUDE = """\
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
loss_fn = nn.functional.cross_entropy
loader = [(torch.randn(16, 8), torch.randint(0, 3, (16,))) for _ in range(6)]
epochs = 1
"""

EPILOGUE = """
import arsam.core
from mmengine.config import Config

assert opt.stats["steps"] == len(loader), opt.stats
cfg = Config.fromfile(arsam.config_path("classification/digits_arsam.py"))
assert cfg.optim_wrapper.optimizer.type == "ARSAM", cfg.optim_wrapper
print("CORE", arsam.core.__file__)
"""


def readme_example() -> str:
    """The first Python block under README's "Using the optimizers in plain PyTorch"."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Using the optimizers in plain PyTorch", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README lost its plain-PyTorch example"
    return match.group(1)


def pinned_requirements() -> dict[str, str]:
    """requirements.txt's exact pins, by normalised project name."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            pins[requirement.name.lower().replace("_", "-")] = spec.version
    return pins


def test_declared_ranges_admit_the_pinned_versions() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared.extend(extra)
    pins = pinned_requirements()
    for line in declared:
        requirement = Requirement(line)
        name = requirement.name.lower().replace("_", "-")
        if name in pins:
            assert requirement.specifier.contains(pins[name]), f"{line} excludes pin {pins[name]}"
    assert Requirement("torch").name in {Requirement(d).name for d in project["dependencies"]}


def test_installed_package_runs_the_readme_example(tmp_path: Path) -> None:
    source = tmp_path / "source"
    for name in SOURCES:
        origin = ROOT / name
        if origin.is_dir():
            ignore = shutil.ignore_patterns("__pycache__")
            shutil.copytree(origin, source / name, symlinks=True, ignore=ignore)
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(origin, source / name)

    python, purelib = fresh_venv(tmp_path)
    env = clean_env()
    subprocess.run(
        [
            *(str(python), "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps"),
            *("--no-index", "--ignore-installed", "--no-cache-dir", str(source)),
        ],
        check=True,
        env=env,
        cwd=tmp_path,
    )

    installed = Path(purelib) / "arsam" / ".mim" / "configs"
    shipped = {p.relative_to(installed) for p in installed.rglob("*.py")}
    in_sources = {p.relative_to(source / "configs") for p in (source / "configs").rglob("*.py")}
    assert shipped == in_sources

    work = tmp_path / "elsewhere"
    work.mkdir()
    script = work / "example.py"
    header = "import sys\nfrom pathlib import Path\n"
    script.write_text(header + PRELUDE + readme_example() + EPILOGUE)
    run = subprocess.run(
        [str(python), str(script)], env=env, cwd=work, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-3000:]
    location = run.stdout.split("CORE ", 1)[1].strip()
    assert Path(location).resolve().is_relative_to(Path(purelib).resolve()), location
