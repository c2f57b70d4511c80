"""Compatibility shims the OpenMMLab stack needs on this project's environment.

Every shim lives here, is idempotent, and is applied by ``apply_all()`` (which
``arsam.tasks.pose`` calls on import, before anything imports mmpose).

``mmcv._ext`` stand-in
    mmcv-lite ships no compiled operators, yet ``import mmpose.models`` imports
    ``mmcv.ops`` (through a transformer head that the top-down models never
    use), and every ``mmcv.ops`` module loads ``mmcv._ext`` at import time. A
    stand-in module registered as ``mmcv._ext`` lets those imports succeed;
    calling any of its operators raises ``MissingCompiledOpError`` naming the
    operator. When a compiled mmcv is installed, the real extension is found
    and the stand-in is not registered.

bfloat16 tensors into numpy
    MMPose's heads turn their outputs into numpy arrays with
    ``mmpose.utils.tensor_utils.to_numpy`` (training accuracy, decoding), and
    numpy has no bfloat16: under bf16 autocast (``--amp`` on the CPU) that
    raises "Got unsupported ScalarType BFloat16". The shim wraps ``to_numpy``
    so that bfloat16 tensors are converted as float32; every other input is
    passed through unchanged. The losses and gradients are not affected.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Callable
from typing import Any

EXT_NAME = "mmcv._ext"


class MissingCompiledOpError(RuntimeError):
    """Raised when a compiled mmcv operator is called but only mmcv-lite is installed."""


class _MissingOpsModule(types.ModuleType):
    """Module whose every public attribute is an operator that raises when called."""

    is_stand_in = True

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        return _missing_op(name)


def _missing_op(name: str) -> Callable[..., None]:
    """Return a stand-in for the compiled operator ``name`` that raises when called."""

    def op(*args: object, **kwargs: object) -> None:
        raise MissingCompiledOpError(
            f"mmcv operator '{name}' needs mmcv's compiled extension, but the installed mmcv "
            "(mmcv-lite) has none. Install a compiled mmcv (the full 'mmcv' package built "
            "for your torch and CUDA, e.g. `mim install mmcv==2.1.0`) to use models that "
            "call it."
        )

    op.__name__ = op.__qualname__ = name
    return op


def make_ext_stand_in() -> types.ModuleType:
    """Build a fresh ``mmcv._ext`` stand-in module."""
    module = _MissingOpsModule(EXT_NAME, "Stand-in for mmcv's compiled operators (none here).")
    module.__spec__ = importlib.machinery.ModuleSpec(EXT_NAME, loader=None)
    module.__package__ = "mmcv"
    return module


def is_ext_stand_in(module: object) -> bool:
    """Whether ``module`` is the stand-in rather than a compiled extension."""
    return isinstance(module, _MissingOpsModule)


def has_compiled_mmcv() -> bool:
    """Whether a compiled ``mmcv._ext`` is importable (the stand-in does not count).

    The search looks inside the installed mmcv package without importing it.
    """
    current = sys.modules.get(EXT_NAME)
    if current is not None:
        return not is_ext_stand_in(current)
    package = importlib.util.find_spec("mmcv")
    if package is None or not package.submodule_search_locations:
        return False
    locations = list(package.submodule_search_locations)
    return importlib.machinery.PathFinder.find_spec(EXT_NAME, locations) is not None


def install_mmcv_ext_stand_in() -> bool:
    """Register the stand-in as ``mmcv._ext`` unless a real one exists; True if it is in use."""
    current = sys.modules.get(EXT_NAME)
    if current is not None:
        return is_ext_stand_in(current)
    if importlib.util.find_spec("mmcv") is None or has_compiled_mmcv():
        return False
    sys.modules[EXT_NAME] = make_ext_stand_in()
    return True


def as_float32_if_bfloat16(x: Any) -> Any:
    """``x`` with bfloat16 tensors (alone or in a list or tuple) converted to float32."""
    import torch

    if isinstance(x, torch.Tensor):
        return x.float() if x.dtype == torch.bfloat16 else x
    if isinstance(x, list | tuple) and any(isinstance(item, torch.Tensor) for item in x):
        return type(x)(as_float32_if_bfloat16(item) for item in x)
    return x


def _accepting_bfloat16(to_numpy: Callable[..., Any]) -> Callable[..., Any]:
    """``to_numpy`` that converts bfloat16 tensors as float32 first."""

    @functools.wraps(to_numpy)
    def bfloat16_safe_to_numpy(x: Any, *args: Any, **kwargs: Any) -> Any:
        return to_numpy(as_float32_if_bfloat16(x), *args, **kwargs)

    bfloat16_safe_to_numpy.accepts_bfloat16 = True
    return bfloat16_safe_to_numpy


def install_bfloat16_to_numpy() -> bool:
    """Make mmpose's ``to_numpy`` accept bfloat16 tensors; True if mmpose is installed.

    Modules that imported ``to_numpy`` before the shim are rebound too.
    """
    if importlib.util.find_spec("mmpose") is None:
        return False
    from mmpose.utils import tensor_utils

    original = tensor_utils.to_numpy
    if getattr(original, "accepts_bfloat16", False):
        return True
    safe = _accepting_bfloat16(original)
    for name, module in list(sys.modules.items()):
        if name.startswith("mmpose") and getattr(module, "to_numpy", None) is original:
            module.to_numpy = safe
    return True


def apply_all() -> None:
    """Apply every shim; safe to call more than once."""
    install_mmcv_ext_stand_in()
    install_bfloat16_to_numpy()
