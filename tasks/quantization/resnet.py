"""Quantized CIFAR ResNet built from Brevitas layers, parameter names matching ``CifarResNet``.

Every convolution and the classifier see quantized inputs: the image passes an
``edge_bits`` signed quantizer, each ReLU quantizes its output to ``act_bits``
(unsigned), and the pooled features pass an ``edge_bits`` unsigned quantizer
before the classifier. The first convolution and the classifier have
``edge_bits`` weights, every other convolution ``weight_bits``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from mmengine.registry import MODELS
from torch import Tensor, nn

from .float_init import load_float_weights
from .recipe import QuantRecipe


class QuantBasicBlock(nn.Module):
    """Two quantized 3x3 convolutions with batch norm and an identity or 1x1 projection shortcut."""

    def __init__(
        self, recipe: QuantRecipe, in_channels: int, out_channels: int, stride: int = 1
    ) -> None:
        super().__init__()
        self.conv1 = recipe.conv(in_channels, out_channels, 3, stride, 1)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu1 = recipe.relu()
        self.conv2 = recipe.conv(out_channels, out_channels, 3, 1, 1)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                recipe.conv(in_channels, out_channels, 1, stride),
                nn.BatchNorm2d(out_channels),
            )
        self.relu = recipe.relu()

    def forward(self, x: Tensor) -> Tensor:
        """Residual block output, quantized."""
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


@MODELS.register_module()
class QuantCifarResNet(nn.Module):
    """Quantized CIFAR ResNet; the defaults give ResNet-18 at W4A4 with 8-bit first/last layers.

    ``float_checkpoint`` (a path, a state_dict or a float model) initialises every
    convolution, BatchNorm and the classifier from a float ``CifarResNet`` of the
    same shape; quantizer scales are then initialised from statistics as usual.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 3,
        base_width: int = 64,
        blocks: Sequence[int] = (2, 2, 2, 2),
        weight_bits: int = 4,
        act_bits: int = 4,
        edge_bits: int = 8,
        collect_stats_steps: int = 100,
        weight_init: str = "lsq",
        act_init: str = "lsq",
        per_channel: bool = False,
        float_checkpoint: str | Path | dict[str, Any] | nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.recipe = QuantRecipe(
            weight_bits=weight_bits,
            act_bits=act_bits,
            edge_bits=edge_bits,
            collect_stats_steps=collect_stats_steps,
            weight_init=weight_init,
            act_init=act_init,
            per_channel=per_channel,
        )
        recipe = self.recipe
        self.input_quant = recipe.identity(signed=True, edge=True)
        self.stem = nn.Sequential(
            recipe.conv(in_channels, base_width, 3, 1, 1, edge=True),
            nn.BatchNorm2d(base_width),
            recipe.relu(),
        )
        stages = []
        channels = base_width
        for index, num_blocks in enumerate(blocks):
            width = base_width * 2**index
            stride = 1 if index == 0 else 2
            layers = []
            for block in range(num_blocks):
                layers.append(QuantBasicBlock(recipe, channels, width, stride if block == 0 else 1))
                channels = width
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head_quant = recipe.identity(signed=False, edge=True)
        self.fc = recipe.linear(channels, num_classes, edge=True)
        self._init_weights()
        if float_checkpoint is not None:
            load_float_weights(self, float_checkpoint)

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        """Class logits for a batch of images."""
        x = self.stages(self.stem(self.input_quant(x)))
        return self.fc(self.head_quant(torch.flatten(self.pool(x), 1)))
