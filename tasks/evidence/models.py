"""Tiny classifiers for the evidence workloads: an MLP and a small CNN with BatchNorm."""

from __future__ import annotations

from typing import Any

from torch import nn


def mlp(
    in_features: int, num_classes: int, hidden: int = 64, depth: int = 1, batch_norm: bool = False
) -> nn.Module:
    """A ReLU MLP (``depth`` hidden layers of ``hidden`` units, optional BatchNorm), flattened."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for _ in range(depth):
        layers.append(nn.Linear(width, hidden, bias=not batch_norm))
        layers += [nn.BatchNorm1d(hidden), nn.ReLU()] if batch_norm else [nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def small_cnn(in_channels: int, num_classes: int, width: int = 16) -> nn.Module:
    """Two 3x3 conv-BatchNorm-ReLU stages (the first pooled by 2), global average pooling."""
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1, bias=False),
        nn.BatchNorm2d(2 * width),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(2 * width, num_classes),
    )


MODELS = {"mlp": mlp, "small_cnn": small_cnn}


def build_model(name: str, in_shape: tuple[int, ...], num_classes: int, **kwargs: Any) -> nn.Module:
    """The model ``name`` for inputs of shape ``in_shape`` (C, H, W) or (features,)."""
    if name == "mlp":
        features = 1
        for size in in_shape:
            features *= size
        return mlp(features, num_classes, **kwargs)
    if name == "small_cnn":
        return small_cnn(in_shape[0], num_classes, **kwargs)
    raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
