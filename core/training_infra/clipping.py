"""Checks of ``optim_wrapper.clip_grad``: a bound that would flip or erase gradients is refused.

torch's ``clip_grad_norm_`` multiplies the gradients by max_norm / ||g||, so a negative
``max_norm`` flips them and 0 erases them; ``clip_grad_value_`` clamps them to
[-clip_value, clip_value]. Neither complains, and the run ends "successfully" having trained
wrong or not at all. SAMOptimWrapper, MMEngine's OptimWrapper and AmpOptimWrapper are checked
alike, where the config is checked (tools/cli/config_checks.py) and when SAMOptimWrapper is built.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

WHERE = "optim_wrapper.clip_grad"
_KEYS = {
    # SAMOptimWrapper hands these two to the optimizer (max_grad_norm, grad_norm_type)
    "two_pass": ("max_norm", "norm_type"),
    # the keyword arguments of torch.nn.utils.clip_grad_norm_ / clip_grad_value_
    "norm": ("max_norm", "norm_type", "error_if_nonfinite", "foreach"),
    "value": ("clip_value", "foreach"),
}
_EXAMPLE = f"{WHERE}=dict(max_norm=1.0)"


def check_clip_grad(clip_grad: Any, two_pass: bool) -> None:
    """Raise ValueError (one paragraph: key, value, range, fix) unless ``clip_grad`` is usable."""
    if clip_grad is None or (two_pass and clip_grad == {}):
        return
    if not isinstance(clip_grad, dict) or not clip_grad:
        raise ValueError(
            f"{WHERE} must be a dict of clipping arguments, got {clip_grad!r}. Set "
            f"{_EXAMPLE} to clip gradients to that global norm, or leave clip_grad out to "
            "train without clipping."
        )
    kind = clip_grad.get("type", "norm")
    if two_pass and kind != "norm":
        raise ValueError(
            f"{WHERE} for SAM/ARSAM must be dict(max_norm=..., norm_type=2): clipping by "
            f"value is not supported, got {clip_grad}. Set {_EXAMPLE}."
        )
    if kind not in ("norm", "value"):
        raise ValueError(
            f"{WHERE}.type must be 'norm' (the default) or 'value', got {kind!r}. Set "
            f"{_EXAMPLE}, or dict(type='value', clip_value=...) to clamp each entry."
        )
    _check_keys(clip_grad, _KEYS["two_pass" if two_pass else kind])
    if kind == "value":
        _check_bound(
            clip_grad,
            "clip_value",
            "sets every gradient entry to that bound",
            f"{WHERE}=dict(type='value', clip_value=1.0)",
        )
        return
    _check_bound(clip_grad, "max_norm", "flips every gradient (< 0) or erases it (0)", _EXAMPLE)
    _check_norm_type(clip_grad.get("norm_type", 2.0))


def _check_keys(clip_grad: dict, accepted: tuple[str, ...]) -> None:
    unknown = sorted(set(clip_grad) - set(accepted) - {"type"})
    if unknown:
        raise ValueError(
            f"{WHERE} has no option {unknown[0]!r} (got {clip_grad}); it takes "
            f"{', '.join(accepted)}. Remove or correct it, e.g. {_EXAMPLE}."
        )


def _check_bound(clip_grad: dict, key: str, harm: str, example: str) -> None:
    if key not in clip_grad:
        raise ValueError(
            f"{WHERE} needs {key}, got {clip_grad}. Set {WHERE}.{key} to a positive number, "
            "or leave clip_grad out to train without clipping."
        )
    value = clip_grad[key]
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(
            f"{WHERE}.{key} must be a finite number > 0, got {value!r}: a bound <= 0 {harm}, "
            "so the run would train wrong or not at all. Set it to a positive number "
            f"(e.g. {example}), or leave clip_grad out to train without clipping."
        )


def _check_norm_type(value: Any) -> None:
    if _is_number(value) and (value == math.inf or (math.isfinite(value) and value > 0)):
        return
    raise ValueError(
        f"{WHERE}.norm_type must be a number > 0 or inf, got {value!r}: it is the p of the "
        "p-norm that clipping measures. Use 2 (the default, Euclidean) or inf (the largest "
        "absolute entry)."
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
