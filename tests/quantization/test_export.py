"""ONNX export through Brevitas' QCDQ exporter: bit widths, integer weights, same outputs."""

import numpy as np
import onnx
import pytest
import torch
from brevitas.nn import QuantConv2d, QuantLinear
from onnx import version_converter
from onnx.reference import ReferenceEvaluator

from arsam.tasks.quantization import export_qcdq, quantized_tensors

from .helpers import batch, tiny_net


def _trained_net(weight_bits: int, act_bits: int):
    model = tiny_net(weight_bits=weight_bits, act_bits=act_bits, collect_stats_steps=2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    x, y = batch()
    for _ in range(3):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return model.eval()


@pytest.fixture(scope="module", params=[(4, 4), (2, 2)], ids=["W4A4", "W2A2"])
def exported(request, tmp_path_factory):
    weight_bits, act_bits = request.param
    model = _trained_net(weight_bits, act_bits)
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    return model, export_qcdq(model, batch(size=1)[0], path), weight_bits, act_bits


def test_graph_holds_quantize_clip_dequantize_nodes(exported):
    _, graph, _, _ = exported
    onnx.checker.check_model(graph)
    ops = {node.op_type for node in graph.graph.node}
    assert {"QuantizeLinear", "Clip", "DequantizeLinear", "Conv", "Gemm"} <= ops


def test_weights_are_integers_at_the_configured_bit_widths(exported):
    model, graph, weight_bits, _ = exported
    layers = [m for m in model.modules() if isinstance(m, QuantConv2d | QuantLinear)]
    weights = [q for q in quantized_tensors(graph) if q.is_weight]
    assert len(weights) == len(layers)
    largest = 2 ** (weight_bits - 1) - 1
    expected = [(-127, 127)] + [(-largest, largest)] * (len(layers) - 2) + [(-127, 127)]
    assert [(q.low, q.high) for q in weights] == expected
    for layer, tensor in zip(layers, weights, strict=True):
        assert tensor.integers.dtype == np.int8
        assert tensor.low <= tensor.integers.min() and tensor.integers.max() <= tensor.high
        assert np.array_equal(tensor.integers, layer.quant_weight().int().numpy())
        assert np.allclose(tensor.scale, layer.quant_weight().scale.detach().numpy().reshape(-1))


def test_activations_at_the_configured_bit_widths(exported):
    _, graph, _, act_bits = exported
    activations = [q for q in quantized_tensors(graph) if not q.is_weight]
    # network input (signed) and pooled features (unsigned) at 8 bits, every ReLU at act_bits
    assert (activations[0].signed, activations[0].bit_width) == (True, 8)
    assert (activations[-1].signed, activations[-1].bit_width) == (False, 8)
    inner = activations[1:-1]
    assert len(inner) == 5
    assert all((q.low, q.high) == (0, 2**act_bits - 1) for q in inner)


def test_onnx_graph_computes_what_the_model_computes(exported):
    model, graph, _, _ = exported
    x = batch(seed=3, size=2)[0]
    with torch.no_grad():
        expected = model(x).numpy()
    # onnx's reference runtime implements DequantizeLinear from opset 19 on
    evaluator = ReferenceEvaluator(version_converter.convert_version(graph, 19))
    (actual,) = evaluator.run(None, {graph.graph.input[0].name: x.numpy()})
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4)


def test_dynamo_export_keeps_quiet_and_quantizes_alike(tmp_path, capfd, caplog):
    model = _trained_net(4, 4)
    graph = export_qcdq(model, batch(size=1)[0], tmp_path / "dynamo.onnx", dynamo=True)
    captured = capfd.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert not [record.getMessage() for record in caplog.records if record.exc_info]
    weights = [q for q in quantized_tensors(graph) if q.is_weight]
    assert [(q.low, q.high) for q in weights] == [(-127, 127)] + [(-7, 7)] * 5 + [(-127, 127)]
    layers = [m for m in model.modules() if isinstance(m, QuantConv2d | QuantLinear)]
    for layer, tensor in zip(layers, weights, strict=True):
        assert np.array_equal(tensor.integers, layer.quant_weight().int().numpy())
