"""ONNX export of a quantized network (QCDQ: QuantizeLinear, Clip, DequantizeLinear).

``export_qcdq`` goes through Brevitas' own exporter. By default it uses torch's
TorchScript-based ONNX exporter at opset 13, which stores quantized weights as
integer initializers. ``dynamo=True`` uses torch's newer exporter at its native
opset 18 (asking for an older opset makes it attempt a down-conversion that
fails with a logged, non-fatal traceback); weights then stay float in the graph
and are quantized by a QuantizeLinear node.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import onnx
import torch
from torch import Tensor, nn

with warnings.catch_warnings():
    # brevitas.export imports brevitas.graph, which warns about an optional CUDA kernel package
    warnings.simplefilter("ignore", UserWarning)
    from brevitas.export import export_onnx_qcdq

from .qcdq_graph import QuantizedTensor, quantized_tensors

__all__ = ["QuantizedTensor", "export_qcdq", "quantized_tensors"]

DYNAMO_OPSET = 18
TORCHSCRIPT_OPSET = 13


def export_qcdq(
    model: nn.Module, example_input: Tensor, path: str | Path, dynamo: bool = False
) -> onnx.ModelProto:
    """Write ``model``, as in eval mode, to ``path`` as a QCDQ ONNX graph and return the graph."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {"dynamo": dynamo}
    if dynamo:
        options.update(opset_version=DYNAMO_OPSET, optimize=True, verbose=False)
    else:
        options.update(opset_version=TORCHSCRIPT_OPSET)
    was_training = model.training
    model.eval()
    try:
        with _quiet(), torch.no_grad():
            export_onnx_qcdq(model, example_input, export_path=str(path), **options)
    finally:
        model.train(was_training)
    return onnx.load(str(path))


@contextmanager
def _quiet() -> Any:
    """Silence the exporters' deprecation and opset notices."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
