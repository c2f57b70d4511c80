"""PyramidNet (Han et al., 2017) with basic blocks, additive widening and zero-padded shortcuts."""

from __future__ import annotations

import torch
from mmengine.registry import MODELS
from torch import Tensor, nn
from torch.nn import functional as F


class PyramidBasicBlock(nn.Module):
    """BN-conv3x3-BN-ReLU-conv3x3-BN; the shortcut average-pools and zero-pads the channels."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.stride = stride
        self.extra_channels = out_channels - in_channels

    def forward(self, x: Tensor) -> Tensor:
        """Residual block output."""
        out = self.conv1(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(out)))
        out = self.bn3(out)
        shortcut = x
        if self.stride != 1:
            shortcut = F.avg_pool2d(shortcut, 2, 2, ceil_mode=True)
        if self.extra_channels > 0:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, 0, self.extra_channels))
        return out + shortcut


@MODELS.register_module()
class PyramidNet(nn.Module):
    """PyramidNet for 32x32 images; the defaults give PyramidNet-110 with alpha 270."""

    def __init__(
        self,
        num_classes: int = 10,
        depth: int = 110,
        alpha: float = 270,
        in_channels: int = 3,
        base_channels: int = 16,
    ) -> None:
        super().__init__()
        if (depth - 2) % 6 != 0:
            raise ValueError(f"PyramidNet (basic blocks) depth must be 6n + 2, got {depth}")
        blocks_per_stage = (depth - 2) // 6
        step = alpha / (3 * blocks_per_stage)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, base_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(base_channels),
        )
        layers = []
        width = float(base_channels)
        channels = base_channels
        for stage in range(3):
            for block in range(blocks_per_stage):
                width += step
                stride = 2 if stage > 0 and block == 0 else 1
                layers.append(PyramidBasicBlock(channels, round(width), stride))
                channels = round(width)
        self.blocks = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(channels)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        """Class logits for a batch of images."""
        x = F.relu(self.bn(self.blocks(self.stem(x))))
        return self.fc(torch.flatten(self.pool(x), 1))
