"""Brevitas quantizers with learned scales initialised from statistics (LSQ-style).

Weights: signed, narrow-range integers (symmetric around zero, so a b-bit weight
takes values in [-(2^(b-1) - 1), 2^(b-1) - 1]); the scale is a parameter
initialised on the first forward pass from the weight tensor, either as in LSQ
(2 mean|w| / sqrt(Qp)) or from max|w| (scale = max|w| / Qp).

Activations: unsigned after ReLU, signed elsewhere (the network input). The
scale is a parameter initialised from the first ``collect_stats_steps``
training-mode forward passes (a running average of a per-batch statistic), then
learned: as in LSQ (2 mean|x| / sqrt(Qp)) or from the 99.999th percentile of
|x| (scale = percentile / Qp, Brevitas' default).
"""

from __future__ import annotations

import math

import torch
from brevitas.inject.enum import ScalingImplType, ScalingPerOutputType, StatsOp
from brevitas.quant import Int8ActPerTensorFloat, Int8WeightPerTensorFloat, Uint8ActPerTensorFloat
from torch import Tensor, nn

WEIGHT_INITS = ("lsq", "max")
ACT_INITS = ("lsq", "percentile")


class LsqInitStats(nn.Module):
    """The statistic 2 mean|x| sqrt(Qp), from which Brevitas makes LSQ's initial scale.

    Brevitas divides the statistic by the largest integer Qp, so the initial scale
    is LSQ's 2 mean|x| / sqrt(Qp).
    """

    def __init__(self, bit_width: int, signed: bool, stats_reduce_dim: int | None = None) -> None:
        super().__init__()
        largest = 2 ** (int(bit_width) - 1) - 1 if signed else 2 ** int(bit_width) - 1
        self.factor = 2.0 * math.sqrt(max(largest, 1))
        self.stats_reduce_dim = stats_reduce_dim

    def forward(self, x: Tensor) -> Tensor:
        """The statistic over the whole tensor or along ``stats_reduce_dim``."""
        magnitude = x.abs()
        if self.stats_reduce_dim is None:
            return self.factor * magnitude.mean()
        return self.factor * torch.mean(magnitude, dim=self.stats_reduce_dim)


class MaxInitWeightQuant(Int8WeightPerTensorFloat):
    """Narrow signed integer weights, learned scale initialised from max|w| on the first forward."""

    scaling_impl_type = ScalingImplType.PARAMETER_FROM_STATS
    scaling_stats_op = StatsOp.MAX


class LsqInitWeightQuant(MaxInitWeightQuant):
    """Narrow signed integer weights, learned scale initialised as in LSQ."""

    scaling_stats_impl = LsqInitStats


class PercentileInitUnsignedActQuant(Uint8ActPerTensorFloat):
    """Unsigned activations, learned scale initialised from runtime percentiles of |x|."""

    scaling_impl_type = ScalingImplType.PARAMETER_FROM_STATS


class PercentileInitSignedActQuant(Int8ActPerTensorFloat):
    """Signed activations, learned scale initialised from runtime percentiles of |x|."""

    scaling_impl_type = ScalingImplType.PARAMETER_FROM_STATS


class LsqInitUnsignedActQuant(PercentileInitUnsignedActQuant):
    """Unsigned activations, learned scale initialised as in LSQ from runtime statistics."""

    scaling_stats_impl = LsqInitStats


class LsqInitSignedActQuant(PercentileInitSignedActQuant):
    """Signed activations, learned scale initialised as in LSQ from runtime statistics."""

    scaling_stats_impl = LsqInitStats


def weight_quant(bit_width: int, init: str = "lsq", per_channel: bool = False) -> type:
    """A weight quantizer at ``bit_width`` bits with a learned scale initialised by ``init``."""
    check_bit_width(bit_width)
    check_choice("weight scale init", init, WEIGHT_INITS)
    base = LsqInitWeightQuant if init == "lsq" else MaxInitWeightQuant
    granularity = ScalingPerOutputType.CHANNEL if per_channel else ScalingPerOutputType.TENSOR
    return base.let(bit_width=bit_width, scaling_per_output_type=granularity)


def act_quant(bit_width: int, signed: bool, collect_stats_steps: int, init: str = "lsq") -> type:
    """An activation quantizer at ``bit_width`` bits calibrated over ``collect_stats_steps``."""
    check_bit_width(bit_width)
    check_choice("activation scale init", init, ACT_INITS)
    if isinstance(collect_stats_steps, bool) or not isinstance(collect_stats_steps, int):
        raise TypeError(f"collect_stats_steps must be an integer, got {collect_stats_steps!r}")
    if collect_stats_steps < 1:
        raise ValueError(f"collect_stats_steps must be >= 1, got {collect_stats_steps}")
    if init == "lsq":
        base = LsqInitSignedActQuant if signed else LsqInitUnsignedActQuant
    else:
        base = PercentileInitSignedActQuant if signed else PercentileInitUnsignedActQuant
    return base.let(bit_width=bit_width, collect_stats_steps=collect_stats_steps)


def check_bit_width(bit_width: int) -> None:
    """Raise unless ``bit_width`` is an integer between 2 and 8 (what an int8 container holds)."""
    if isinstance(bit_width, bool) or not isinstance(bit_width, int):
        raise TypeError(f"bit width must be an integer, got {bit_width!r}")
    if not 2 <= bit_width <= 8:
        raise ValueError(f"bit width must lie in [2, 8], got {bit_width}")


def check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    """Raise ValueError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{what} must be one of {choices}, got {value!r}")
