"""What a two-pass optimizer refuses, in one paragraph each, before it would fail inside torch.

- complex parameters (at construction): the perturbation and ARSAM's statistics are
  defined for real parameters;
- sparse gradients (at the first step with gradients): the multi-tensor maths is dense;
- keyword arguments that neither the method nor its base optimizer takes (at construction),
  named with the closest valid name instead of the base optimizer's bare TypeError.

Float64 and mixed float dtypes are supported (core/multi_tensor.py groups them).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

# Arguments every two-pass optimizer takes (TwoPassOptimizer's own, passed through **kwargs).
SHARED_ARGUMENTS = (
    "rho",
    "adaptive",
    "eps",
    "max_grad_norm",
    "grad_norm_type",
    "skip_nonfinite",
)
_NOT_ARGUMENTS = frozenset({"self", "params", "base_optimizer", "rule"})


def check_real_parameters(params: Iterable[Tensor], group_index: int) -> None:
    """Raise ValueError naming the first complex parameter of parameter group ``group_index``."""
    for index, param in enumerate(params):
        if isinstance(param, Tensor) and param.is_complex():
            raise ValueError(
                f"parameter {index} of parameter group {group_index} is complex ({param.dtype}): "
                "SAM's perturbation and ARSAM's statistics are defined for real parameters only. "
                "Optimize it as a real tensor (torch.view_as_real: two real numbers per entry) "
                "or leave it to a separate plain torch optimizer."
            )


def check_dense_gradients(param_groups: list[dict[str, Any]]) -> None:
    """Raise ValueError naming the first parameter whose gradient is sparse."""
    for group_index, group in enumerate(param_groups):
        for index, param in enumerate(group["params"]):
            if param.grad is not None and param.grad.is_sparse:
                raise ValueError(
                    f"parameter {index} of parameter group {group_index} "
                    f"({tuple(param.shape)}) has a sparse gradient (nn.Embedding(..., "
                    "sparse=True) or similar): the two-pass step perturbs and mixes dense "
                    "gradients only. Build the module with sparse=False, or leave this "
                    "parameter to a separate optimizer such as torch.optim.SparseAdam."
                )


def has_gradients(param_groups: list[dict[str, Any]]) -> bool:
    """Whether any parameter has a gradient (stops at the first one that has)."""
    return any(p.grad is not None for group in param_groups for p in group["params"])


def check_base_keywords(
    method: type, base_optimizer: type[torch.optim.Optimizer], base_kwargs: dict[str, Any]
) -> None:
    """Raise TypeError for a keyword that neither ``method`` nor ``base_optimizer`` takes."""
    base_arguments, open_ended = _named_arguments(base_optimizer)
    unknown = [name for name in base_kwargs if name not in base_arguments]
    if open_ended or not unknown:
        return  # a base optimizer that takes **kwargs judges them itself
    own = method_arguments(method)
    name = unknown[0]
    close = difflib.get_close_matches(name, own + base_arguments, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise TypeError(
        f"{method.__name__} got an unknown keyword argument {name!r}{hint}: it is neither an "
        f"argument of {method.__name__} ({', '.join(own)}) nor of its base optimizer "
        f"{base_optimizer.__name__} ({', '.join(base_arguments)}). Correct or remove it."
    )


def method_arguments(method: type) -> list[str]:
    """The keyword arguments a two-pass method takes itself: its constructor's, then the shared."""
    named, _ = _named_arguments(method)
    own = [n for n in named if n not in _NOT_ARGUMENTS]
    return own + [n for n in SHARED_ARGUMENTS if n not in own]


def _named_arguments(cls: type) -> tuple[list[str], bool]:
    """The named arguments of ``cls``'s constructor, and whether it also takes **kwargs."""
    names, open_ended = [], False
    for parameter in inspect.signature(cls.__init__).parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            open_ended = True
        elif parameter.kind is not inspect.Parameter.VAR_POSITIONAL and parameter.name != "self":
            names.append(parameter.name)
    return [n for n in names if n != "params"], open_ended
