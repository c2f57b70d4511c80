"""The quantized ResNet: registry, bit widths, learned scales, initialisation from float weights."""

import pytest
import torch
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
from mmengine.registry import MODELS

from arsam.core.training_infra.checkpoint_checks import CheckpointError
from arsam.tasks.classification import CifarResNet, ImageClassifier
from arsam.tasks.quantization import QuantCifarResNet, QuantRecipe, load_float_weights

from .helpers import batch, scale_parameters, tiny_net


def _weight_bits(model):
    layers = [m for m in model.modules() if isinstance(m, QuantConv2d | QuantLinear)]
    return [int(m.quant_weight().bit_width) for m in layers]


def _act_bits(model):
    layers = [m for m in model.modules() if isinstance(m, QuantReLU | QuantIdentity)]
    return [int(m.act_quant.bit_width()) for m in layers]


def _scale_of(layer):
    return float(layer.quant_weight().scale.detach())


def test_built_from_the_registry_inside_the_classifier():
    model = MODELS.build(
        dict(
            type="ImageClassifier",
            backbone=dict(type="QuantCifarResNet", base_width=8, blocks=(1, 1), num_classes=7),
        )
    )
    assert isinstance(model.backbone, QuantCifarResNet)
    assert model(batch()[0], mode="tensor").shape == (8, 7)


@pytest.mark.parametrize(("weight_bits", "act_bits"), [(4, 4), (2, 2), (8, 8)])
def test_bit_widths_with_eight_bit_first_and_last_layers(weight_bits, act_bits):
    model = tiny_net(weight_bits=weight_bits, act_bits=act_bits)
    model(batch()[0])
    inner = len(_weight_bits(model)) - 2
    assert _weight_bits(model) == [8] + [weight_bits] * inner + [8]
    # input quantizer and pooled-feature quantizer at 8 bits, every ReLU at act_bits
    assert _act_bits(model) == [8] + [act_bits] * (len(_act_bits(model)) - 2) + [8]


def test_quantized_weights_use_the_narrow_signed_grid():
    model = tiny_net(weight_bits=2, act_bits=2)
    model(batch()[0])
    integers = model.stages[0][0].conv1.quant_weight().int()
    assert set(integers.unique().tolist()) <= {-1, 0, 1}


def test_scales_are_parameters_initialised_from_statistics():
    model = tiny_net(collect_stats_steps=2)
    scales = scale_parameters(model)
    assert len(scales) == 6 + 8  # 6 weight quantizers, 8 activation quantizers
    x, _ = batch()
    for _ in range(3):
        model(x)
    relu_scale = model.stem[2].act_quant.fused_activation_quant_proxy.tensor_quant.scaling_impl
    assert relu_scale.counter == 3
    assert float(relu_scale.value.detach()) != 1.0
    conv = model.stages[0][0].conv1
    expected = 2 * conv.weight.abs().mean() / 7**0.5
    assert _scale_of(conv) == pytest.approx(float(expected.detach()), rel=1e-5)


def test_recipe_rejects_unsupported_settings():
    with pytest.raises(ValueError, match="bit width"):
        QuantRecipe(weight_bits=1)
    with pytest.raises(ValueError, match="weight_init"):
        QuantRecipe(weight_init="mse")
    with pytest.raises(ValueError, match="collect_stats_steps"):
        QuantRecipe(collect_stats_steps=0)


def _float_classifier(**backbone):
    options = dict(type="CifarResNet", num_classes=10, base_width=8, blocks=(1, 1))
    options.update(backbone)
    return ImageClassifier(backbone=options)


def test_initialised_from_a_float_classifier_checkpoint(tmp_path):
    float_model = _float_classifier()
    path = tmp_path / "float.pth"
    torch.save({"meta": {}, "state_dict": float_model.state_dict()}, path)
    model = tiny_net(float_checkpoint=path)
    float_state = float_model.backbone.state_dict()
    for key, value in model.state_dict().items():
        if key in float_state:
            assert torch.equal(value, float_state[key]), key
    loaded = [k for k in model.state_dict() if k in float_state]
    assert len(loaded) == len(float_state)


def test_initialised_from_a_float_network_and_scales_follow_the_loaded_weights():
    float_net = CifarResNet(num_classes=10, base_width=8, blocks=(1, 1))
    model = tiny_net()
    load_float_weights(model, float_net.state_dict())
    model(batch()[0])
    conv = model.stages[1][0].conv2
    assert torch.equal(conv.weight, float_net.stages[1][0].conv2.weight)
    expected = 2 * float_net.stages[1][0].conv2.weight.abs().mean() / 7**0.5
    assert _scale_of(conv) == pytest.approx(float(expected.detach()), rel=1e-5)


@pytest.mark.parametrize(
    ("backbone", "message"),
    [
        (dict(num_classes=100), r"fc\.weight: checkpoint \(100, 16\), model \(10, 16\)"),
        (dict(blocks=(1, 1, 1)), r"in the checkpoint but not in the network: stages\.2\."),
        (dict(blocks=(2, 1)), r"in the checkpoint but not in the network: stages\.0\.1\."),
    ],
)
def test_mismatched_float_checkpoint_is_a_clear_error(backbone, message):
    float_model = _float_classifier(**backbone)
    with pytest.raises(ValueError, match=message):
        tiny_net(float_checkpoint=float_model.state_dict())


def test_checkpoint_without_a_float_resnet_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="cannot locate the float CifarResNet"):
        tiny_net(float_checkpoint={"state_dict": {"encoder.weight": torch.zeros(2)}})
    with pytest.raises(CheckpointError, match=r"missing\.pth' not found"):
        tiny_net(float_checkpoint=tmp_path / "missing.pth")


def test_activation_scales_start_as_in_lsq_and_edges_from_the_data_range():
    model = tiny_net(collect_stats_steps=1)
    x, _ = batch()
    stem_relu = model.stem[2]
    captured = []
    stem_relu.register_forward_hook(lambda module, args, out: captured.append(args[0].detach()))
    model(x)
    model(x)
    expected = 2 * torch.relu(captured[0]).mean() / 15**0.5
    assert float(stem_relu.act_quant.scale().detach()) == pytest.approx(float(expected), rel=1e-4)
    largest = torch.quantile(x.abs().flatten(), 0.99999)
    input_scale = float(model.input_quant.act_quant.scale().detach())
    assert input_scale == pytest.approx(float(largest) / 127, rel=1e-2)
