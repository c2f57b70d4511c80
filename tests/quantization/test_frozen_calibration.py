"""Brevitas' calibration statistics see each minibatch once under SAM and ARSAM."""

import copy

import pytest
import torch
from brevitas.core.function_wrapper.shape import OverTensorView
from brevitas.core.stats import AbsMax
from brevitas.core.stats.stats_wrapper import _RuntimeStats
from brevitas.nn import QuantReLU

from arsam.core import SAM, ARSAMPaper, FrozenStatistics
from arsam.tasks.quantization.quantizers import act_quant

from .helpers import batch, batchnorm_counters, quantizer_counters, tiny_net


def _relu(steps: int) -> QuantReLU:
    return QuantReLU(act_quant=act_quant(4, signed=False, collect_stats_steps=steps))


def _scaling(layer: QuantReLU):
    return layer.act_quant.fused_activation_quant_proxy.tensor_quant.scaling_impl


def _inputs(count: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(4, 8, generator=generator) * (i + 1) for i in range(count)]


def test_second_pass_leaves_counter_and_buffer_as_a_single_pass_would():
    frozen_layer, single = _relu(10), _relu(10)
    frozen = FrozenStatistics(frozen_layer)
    for x in _inputs(3):
        frozen_layer(x)
        with frozen():
            frozen_layer(3 * x)
        single(x)
    assert _scaling(frozen_layer).counter == _scaling(single).counter == 3
    assert torch.equal(_scaling(frozen_layer).buffer, _scaling(single).buffer)


def test_second_pass_still_quantizes_with_its_own_batch_statistic():
    layer = _relu(10)
    x, perturbed = _inputs(2)
    layer(x)
    twin = copy.deepcopy(layer)
    with FrozenStatistics(layer)():
        frozen_output = layer(perturbed)
    assert torch.equal(frozen_output, twin(perturbed))
    assert not _scaling(layer).local_loss_mode


def test_scale_is_initialised_on_the_next_first_pass_not_in_a_second_pass():
    layer, single = _relu(2), _relu(2)
    a, b, c = _inputs(3)
    for x in (a, b):
        layer(x)
        single(x)
    assert _scaling(layer).counter == 2
    with FrozenStatistics(layer)():
        layer(5 * c)
    scaling = _scaling(layer)
    assert scaling.counter == 2 and scaling.collect_stats_steps == 2
    assert float(scaling.value.detach()) == 1.0
    layer(c)
    single(c)
    assert scaling.counter == _scaling(single).counter == 3
    assert torch.equal(scaling.value, _scaling(single).value)


def test_weight_scale_is_not_initialised_from_perturbed_weights():
    model = tiny_net()
    x, _ = batch()
    with FrozenStatistics(model)():
        model(x)
    conv = model.stages[0][0].conv1.weight_quant.tensor_quant.scaling_impl
    assert not conv.init_done and not conv.local_loss_mode
    model(x)
    assert conv.init_done


def test_running_statistics_are_restored():
    stats = _RuntimeStats(AbsMax(), (), OverTensorView(), 0.1, None, None)
    stats(torch.ones(4))
    with FrozenStatistics(stats)():
        stats(torch.full((4,), 9.0))
    assert stats.counter == 1
    assert float(stats.running_stats) == 1.0


def _train(model, optimizer, steps: int, freeze: bool = True) -> None:
    if freeze:
        optimizer.freeze_statistics_of(model)
    x, y = batch()

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return loss

    for _ in range(steps):
        optimizer.step(closure)


@pytest.mark.parametrize(
    ("optimizer_class", "options"), [(SAM, {}), (ARSAMPaper, {"warmup_steps": 2, "window": 10})]
)
def test_counters_advance_once_per_step(optimizer_class, options):
    model = tiny_net(collect_stats_steps=50)
    optimizer = optimizer_class(model.parameters(), torch.optim.SGD, lr=0.05, rho=0.05, **options)
    _train(model, optimizer, steps=4)
    assert optimizer.counters["sam_steps"] >= 2
    assert quantizer_counters(model) == {4}
    assert batchnorm_counters(model) == {4}


def test_without_the_freeze_a_sam_step_would_count_twice():
    model = tiny_net(collect_stats_steps=50)
    optimizer = SAM(model.parameters(), torch.optim.SGD, lr=0.05, rho=0.05)
    _train(model, optimizer, steps=3, freeze=False)
    assert quantizer_counters(model) == {6}


def test_calibration_ends_after_the_configured_number_of_steps_under_sam():
    model = tiny_net(collect_stats_steps=3)
    optimizer = SAM(model.parameters(), torch.optim.SGD, lr=0.05, rho=0.05)
    _train(model, optimizer, steps=3)
    assert quantizer_counters(model) == {3}
    _train(model, optimizer, steps=1)
    assert quantizer_counters(model) == {4}
