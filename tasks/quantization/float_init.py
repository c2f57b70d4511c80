"""Initialise a quantized network from the weights of its float counterpart.

The float network (``CifarResNet`` of the classification task) and the quantized
one (``QuantCifarResNet``) use the same names for every convolution, BatchNorm
and the classifier; the quantized one adds quantizers, whose scales are
initialised from statistics instead. A checkpoint of the whole float
``ImageClassifier`` holds the network under a prefix such as ``backbone.``,
which is found and removed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from brevitas.proxy.quant_proxy import QuantProxyFromInjector
from torch import Tensor, nn

from arsam.core.training_infra.checkpoint_loading import load_checkpoint_safely

ANCHOR_KEY = "stem.0.weight"
WRAPPER_PREFIXES = ("module.", "_orig_mod.")


def load_float_weights(
    model: nn.Module, source: str | Path | Mapping[str, Any] | nn.Module, prefix: str | None = None
) -> list[str]:
    """Copy the float weights in ``source`` into ``model``; returns the keys that were loaded.

    ``prefix`` is the part of the float keys before the network's own names
    (found from ``stem.0.weight`` when None). Raises ValueError naming the keys
    when the two networks do not match.
    """
    float_state = float_state_dict(source, prefix)
    expected = float_keys_of(model)
    own_state = model.state_dict()
    missing = sorted(expected - float_state.keys())
    unexpected = sorted(float_state.keys() - expected)
    mismatched = [
        f"{key}: checkpoint {tuple(float_state[key].shape)}, model {tuple(own_state[key].shape)}"
        for key in sorted(expected & float_state.keys())
        if float_state[key].shape != own_state[key].shape
    ]
    if missing or unexpected or mismatched:
        raise ValueError(_mismatch_message(missing, unexpected, mismatched))
    with torch.no_grad():
        for key in sorted(expected):
            own_state[key].copy_(float_state[key])
    return sorted(expected)


def float_state_dict(
    source: str | Path | Mapping[str, Any] | nn.Module, prefix: str | None = None
) -> dict[str, Tensor]:
    """The float network's tensors from a checkpoint (path or URL, read safely), dict or model."""
    if isinstance(source, nn.Module):
        state: Mapping[str, Any] = source.state_dict()
    elif isinstance(source, Mapping):
        state = source
    else:
        state = load_checkpoint_safely(str(source))
    for key in ("state_dict", "model"):
        if isinstance(state.get(key), Mapping):
            state = state[key]
            break
    tensors = {_unwrap(key): value for key, value in state.items() if isinstance(value, Tensor)}
    if prefix is None:
        prefix = _find_prefix(tensors)
    return {key[len(prefix) :]: value for key, value in tensors.items() if key.startswith(prefix)}


def float_keys_of(model: nn.Module) -> set[str]:
    """The state_dict keys of ``model`` that a float network also has (quantizers left out)."""
    quantizers = [
        f"{name}."
        for name, module in model.named_modules()
        if isinstance(module, QuantProxyFromInjector)
    ]
    return {
        key
        for key in model.state_dict()
        if not any(key.startswith(quantizer) for quantizer in quantizers)
    }


def _unwrap(key: str) -> str:
    for wrapper in WRAPPER_PREFIXES:
        while key.startswith(wrapper):
            key = key[len(wrapper) :]
    return key


def _find_prefix(tensors: Mapping[str, Tensor]) -> str:
    anchors = sorted(key[: -len(ANCHOR_KEY)] for key in tensors if key.endswith(ANCHOR_KEY))
    anchors = [anchor for anchor in anchors if anchor == "" or anchor.endswith(".")]
    if len(anchors) != 1:
        found = "no key" if not anchors else f"{len(anchors)} keys"
        raise ValueError(
            f"cannot locate the float CifarResNet in the checkpoint: {found} ending in "
            f"'{ANCHOR_KEY}' (first keys: {sorted(tensors)[:5]}); pass prefix= explicitly"
        )
    return anchors[0]


def _mismatch_message(missing: list[str], unexpected: list[str], mismatched: list[str]) -> str:
    lines = ["the float checkpoint does not match the quantized network"]
    for title, keys in (
        ("missing from the checkpoint", missing),
        ("in the checkpoint but not in the network", unexpected),
        ("with different shapes", mismatched),
    ):
        if keys:
            shown = ", ".join(keys[:6]) + (", ..." if len(keys) > 6 else "")
            lines.append(f"{len(keys)} {title}: {shown}")
    lines.append("check num_classes, in_channels, base_width and blocks against the float model")
    return "; ".join(lines)
