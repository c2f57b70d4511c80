"""Which parameters the SAM perturbation moves: weights always, quantizer scales by choice."""

import re

import pytest
import torch
from mmengine.config import Config

from arsam.core import SAM

from .helpers import CONFIG_DIR, SCALE_PATTERN, batch, scale_parameters, tiny_net


def _calibrated_net():
    model = tiny_net(collect_stats_steps=1)
    model(batch()[0])
    model(batch()[0])
    return model


def _snapshots_per_pass(perturb_scales: bool):
    """Run one SAM step; return the parameters as seen by each pass, and after the step."""
    model = _calibrated_net()
    scales = scale_parameters(model)
    weights = [p for n, p in model.named_parameters() if n not in scales]
    optimizer = SAM(
        [{"params": weights}, {"params": list(scales.values()), "perturb": perturb_scales}],
        torch.optim.SGD,
        lr=0.1,
        rho=0.5,
    )
    optimizer.freeze_statistics_of(model)
    x, y = batch()
    seen = []

    def closure():
        seen.append({n: p.detach().clone() for n, p in model.named_parameters()})
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return loss

    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer.step(closure)
    after = {n: p.detach().clone() for n, p in model.named_parameters()}
    assert len(seen) == 2 and torch.equal(seen[0]["fc.weight"], before["fc.weight"])
    return seen, after, set(scales)


def _moved(first, second, names):
    return {n for n in names if not torch.equal(first[n], second[n])}


def test_excluded_scales_stay_put_in_the_second_pass_but_still_learn():
    (first, second), after, scales = _snapshots_per_pass(perturb_scales=False)
    weights = set(first) - scales
    assert _moved(first, second, scales) == set()
    assert _moved(first, second, weights) == weights
    assert _moved(first, after, scales) == scales


def test_included_scales_are_perturbed_with_the_weights():
    (first, second), after, scales = _snapshots_per_pass(perturb_scales=True)
    assert _moved(first, second, scales) == scales
    assert _moved(first, second, set(first) - scales) == set(first) - scales
    assert _moved(first, after, scales) == scales


@pytest.mark.parametrize("optimizer", ["sam", "arsam"])
def test_config_pattern_selects_exactly_the_quantizer_scales(optimizer):
    cfg = Config.fromfile(str(CONFIG_DIR / f"resnet18_w4a4_cifar10_{optimizer}.py"))
    patterns = cfg.optim_wrapper.exclude_from_perturbation
    assert patterns == [SCALE_PATTERN]
    model = _calibrated_net()
    names = [f"backbone.{n}" for n, _ in model.named_parameters()]
    excluded = {n for n in names if any(re.search(p, n) for p in patterns)}
    assert excluded == {f"backbone.{n}" for n in scale_parameters(model)}
    assert not any(n.endswith(("conv1.weight", "fc.weight", "bn1.weight")) for n in excluded)
