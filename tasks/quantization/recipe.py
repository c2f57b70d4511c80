"""Which bit widths and quantizers a quantized network uses, and the layers built from them."""

from __future__ import annotations

from dataclasses import dataclass

from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU

from .quantizers import (
    ACT_INITS,
    WEIGHT_INITS,
    act_quant,
    check_bit_width,
    check_choice,
    weight_quant,
)

# LSQ's initialisation is made for low bit widths; at 8 bits (first and last layer) it clips far
# outside the data, so edge quantizers start from the range of the data instead.
EDGE_WEIGHT_INIT = "max"
EDGE_ACT_INIT = "percentile"


@dataclass(frozen=True)
class QuantRecipe:
    """Bit widths and quantizer options of one network.

    Args:
        weight_bits: weights of every layer except the first and the last.
        act_bits: activations that feed those layers.
        edge_bits: first and last layer: their weights and their input activations.
        collect_stats_steps: training-mode forwards over which activation scales are
            calibrated before they become learned parameters.
        weight_init: initial scale of the ``weight_bits`` weights: 'lsq' (2 mean|w| / sqrt(Qp))
            or 'max' (max|w| / Qp). Edge weights start from 'max'.
        act_init: initial scale of the ``act_bits`` activations: 'lsq' (2 mean|x| / sqrt(Qp))
            or 'percentile' (99.999th percentile of |x| / Qp). Edge activations start from
            'percentile'.
        per_channel: one weight scale per output channel instead of per tensor.
    """

    weight_bits: int = 4
    act_bits: int = 4
    edge_bits: int = 8
    collect_stats_steps: int = 100
    weight_init: str = "lsq"
    act_init: str = "lsq"
    per_channel: bool = False

    def __post_init__(self) -> None:
        for bits in (self.weight_bits, self.act_bits, self.edge_bits):
            check_bit_width(bits)
        check_choice("weight_init", self.weight_init, WEIGHT_INITS)
        check_choice("act_init", self.act_init, ACT_INITS)
        act_quant(self.act_bits, signed=False, collect_stats_steps=self.collect_stats_steps)

    def _weight_quant(self, edge: bool) -> type:
        if edge:
            return weight_quant(self.edge_bits, EDGE_WEIGHT_INIT, self.per_channel)
        return weight_quant(self.weight_bits, self.weight_init, self.per_channel)

    def _act_quant(self, edge: bool, signed: bool) -> type:
        bits, init = (self.edge_bits, EDGE_ACT_INIT) if edge else (self.act_bits, self.act_init)
        return act_quant(bits, signed, self.collect_stats_steps, init)

    def conv(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        edge: bool = False,
    ) -> QuantConv2d:
        """A bias-free quantized convolution (a BatchNorm follows it)."""
        return QuantConv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            bias=False,
            weight_quant=self._weight_quant(edge),
        )

    def linear(self, in_features: int, out_features: int, edge: bool = True) -> QuantLinear:
        """A quantized linear layer with a floating-point bias."""
        return QuantLinear(
            in_features, out_features, bias=True, weight_quant=self._weight_quant(edge)
        )

    def relu(self, edge: bool = False) -> QuantReLU:
        """ReLU followed by an unsigned activation quantizer."""
        return QuantReLU(act_quant=self._act_quant(edge, signed=False))

    def identity(self, signed: bool, edge: bool = False) -> QuantIdentity:
        """An activation quantizer alone (network input, pooled features)."""
        return QuantIdentity(act_quant=self._act_quant(edge, signed=signed))
