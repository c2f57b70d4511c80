"""ARSAM, SAM and their peers (``arsam.core``, torch only), the MMEngine tasks and the tools.

``arsam.core`` holds the optimizers and ``arsam.core.mmengine_adapter`` the MMEngine glue;
``arsam.tasks`` and ``arsam.tools`` need the ``tasks`` and ``tools`` extras. The configs are
reachable from MMEngine as ``arsam::<task>/<config>.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .core import (
        AESAM,
        ARSAM,
        ESAM,
        SAM,
        SAMK,
        TWO_PASS_METHODS,
        ARSAMPaper,
        LateSAM,
        LookSAM,
        MomentumSAM,
        RandomSAM,
        TwoPassOptimizer,
        build_method,
        register_method,
    )

__all__ = [
    "AESAM",
    "ARSAM",
    "ESAM",
    "SAM",
    "SAMK",
    "TWO_PASS_METHODS",
    "ARSAMPaper",
    "LateSAM",
    "LookSAM",
    "MomentumSAM",
    "RandomSAM",
    "TwoPassOptimizer",
    "__version__",
    "build_method",
    "config_path",
    "register_method",
]
# The optimizer names, imported from arsam.core on first use (importing arsam loads no torch).
_CORE_NAMES = frozenset(__all__) - {"__version__", "config_path"}


def _checkout_root() -> Path | None:
    """The repository root when this package runs from a source checkout, else None."""
    root = Path(__file__).resolve().parent.parent
    project = root / "pyproject.toml"
    if not (root / "core" / "__init__.py").is_file() or not project.is_file():
        return None
    return root if 'name = "arsam-suite"' in project.read_text(encoding="utf-8") else None


# In a checkout core/, tasks/ and tools/ sit beside this folder (the wheel places them inside
# it): arsam.core is then <root>/core. An installed copy never looks beyond its own folder.
_ROOT = _checkout_root()
if _ROOT is not None and str(_ROOT) not in __path__:
    __path__.append(str(_ROOT))


def config_path(name: str) -> str:
    """The file of a shipped config, e.g. ``config_path("classification/digits_arsam.py")``."""
    path = Path(__file__).resolve().parent / ".mim" / "configs" / name
    if not path.is_file():
        raise FileNotFoundError(
            f"arsam ships no config {name!r} (looked for {path}). Name it relative to the "
            "configs folder, e.g. 'classification/digits_arsam.py'."
        )
    return str(path)


def __getattr__(name: str) -> Any:
    """The optimizer names of arsam.core, imported when first asked for."""
    if name in _CORE_NAMES:
        from . import core

        return getattr(core, name)
    raise AttributeError(f"module 'arsam' has no attribute {name!r}")
