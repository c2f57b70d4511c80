"""Which optimizer wrote a saved state: the two-pass method and the base optimizer it wrapped.

A two-pass state names both (``kind`` and, since this version, ``base``). A plain torch
optimizer's state names neither; its parameter groups still hold its settings, and a
setting the other optimizer does not take (SGD's ``momentum`` for Adam) shows that
another optimizer wrote them.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

# Group entries that are not settings of the base optimizer: the parameters, a scheduler's
# initial values (initial_lr...) and the two-pass methods' own group options.
_NOT_BASE_SETTINGS = frozenset({"params", "param_names", "rho", "adaptive", "perturb"})


def saved_base_groups(state_dict: dict[str, Any]) -> list[dict[str, Any]]:
    """The parameter groups of the base optimizer in a two-pass or plain optimizer state."""
    holder = state_dict.get("base_optimizer", state_dict)
    groups = holder.get("param_groups") if isinstance(holder, dict) else None
    return groups if isinstance(groups, list) else []


def foreign_settings(groups: list[dict[str, Any]], known: set[str]) -> list[str]:
    """The settings in saved ``groups`` that are not among ``known`` ones, sorted."""
    names = {
        name
        for group in groups
        for name in group
        if name not in _NOT_BASE_SETTINGS and not name.startswith("initial_")
    }
    return sorted(names - known)


def settings_taken_by(optimizer_class: type[torch.optim.Optimizer]) -> set[str] | None:
    """The group settings ``optimizer_class`` keeps; None when its constructor takes **kwargs."""
    parameters = inspect.signature(optimizer_class.__init__).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    names = {p.name for p in parameters}
    try:  # the defaults it fills in although no argument names them
        probe = optimizer_class([torch.zeros(1, requires_grad=True)])
        names |= set(probe.param_groups[0])
    except (TypeError, ValueError, RuntimeError):
        pass
    return names


def other_base_optimizer(
    state_dict: dict[str, Any], base_class: type[torch.optim.Optimizer], known: set[str] | None
) -> str:
    """'' when ``base_class`` could have written the state's base part, else who did."""
    saved = state_dict.get("base")
    if isinstance(saved, str):
        return "" if saved == base_class.__name__ else saved
    if known is None:
        return ""
    foreign = foreign_settings(saved_base_groups(state_dict), known)
    if not foreign:
        return ""
    return (
        f"another base optimizer (its settings {', '.join(foreign)} are not "
        f"{base_class.__name__}'s)"
    )
