"""Read the quantized tensors of a QCDQ ONNX graph: integer range, scale and constant integers."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper


@dataclass(frozen=True)
class QuantizedTensor:
    """One DequantizeLinear node and the integer range of the tensor it dequantizes.

    ``integers`` holds the integer values when they are constants of the graph
    (quantized weights); it is None for activations.
    """

    node: str
    low: int
    high: int
    scale: np.ndarray
    zero_point: np.ndarray
    integers: np.ndarray | None

    @property
    def is_weight(self) -> bool:
        """Whether the dequantized values are constants of the graph."""
        return self.integers is not None

    @property
    def signed(self) -> bool:
        """Whether the integer range holds negative values."""
        return self.low < 0

    @property
    def bit_width(self) -> int:
        """Bits needed for the integer range [low, high]."""
        return math.ceil(math.log2(self.high - self.low + 1))


def quantized_tensors(model: onnx.ModelProto) -> list[QuantizedTensor]:
    """Every DequantizeLinear of ``model``'s graph, in graph order."""
    constants = _constants(model.graph)
    producers = {output: node for node in model.graph.node for output in node.output}
    found = []
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear":
            found.append(_describe(node, constants, producers))
    return found


def _describe(
    node: onnx.NodeProto, constants: dict[str, np.ndarray], producers: dict[str, onnx.NodeProto]
) -> QuantizedTensor:
    source, scale_name = node.input[0], node.input[1]
    scale = constants[scale_name]
    zero_point = constants[node.input[2]] if len(node.input) > 2 and node.input[2] else None
    dtype = zero_point.dtype if zero_point is not None else np.dtype(np.uint8)
    low, high = int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)
    producer = producers.get(source)
    if producer is not None and producer.op_type == "Clip":
        low, high = int(constants[producer.input[1]]), int(constants[producer.input[2]])
        source = producer.input[0]
        producer = producers.get(source)
    if zero_point is None:
        zero_point = np.zeros((), dtype=dtype)
    integers = None
    if source in constants:
        integers = constants[source]
    elif producer is not None and producer.op_type == "QuantizeLinear":
        float_input = producer.input[0]
        if float_input in constants:
            axis = _axis_of(producer)
            step = _broadcast(constants[producer.input[1]], constants[float_input].ndim, axis)
            offset = _broadcast(zero_point.astype(np.int64), constants[float_input].ndim, axis)
            rounded = np.rint(constants[float_input] / step).astype(np.int64) + offset
            integers = np.clip(rounded, low, high)
    return QuantizedTensor(node.name, low, high, scale, zero_point, integers)


def _constants(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for attribute in node.attribute:
                if attribute.name == "value":
                    values[node.output[0]] = numpy_helper.to_array(attribute.t)
    return values


def _axis_of(node: onnx.NodeProto) -> int:
    for attribute in node.attribute:
        if attribute.name == "axis":
            return int(attribute.i)
    return 1


def _broadcast(values: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    if values.ndim == 0 or values.size == 1:
        return values.reshape(())
    shape = [1] * ndim
    shape[axis] = values.size
    return values.reshape(shape)
