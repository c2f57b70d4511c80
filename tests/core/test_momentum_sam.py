"""MomentumSAM: the update against a reference written here, unperturbed weights, refusals."""

from __future__ import annotations

import io
from typing import Any

import pytest
import torch
from torch import nn

from arsam.core import TWO_PASS_METHODS, MomentumSAM, build_method

from .helpers import CountingClosure, batches, run, same, tiny_model, weights

STEPS = 6
RHO = 0.5


def mlp(seed: int = 0) -> nn.Module:
    """A small MLP without statistics, so that the reference needs no BatchNorm bookkeeping."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))


def gradient_at(model: nn.Module, point: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor):
    """The loss gradient of ``model``'s architecture at the weights ``point``."""
    names = [name for name, _ in model.named_parameters()]
    leaves = [w.detach().clone().requires_grad_() for w in point]
    out = torch.func.functional_call(model, dict(zip(names, leaves, strict=True)), (x,))
    return torch.autograd.grad(nn.functional.cross_entropy(out, y), leaves)


def reference_sgd(model: nn.Module, lr: float, mu: float, wd: float) -> list[torch.Tensor]:
    """Momentum-SAM with SGD as the paper writes it: g at w - rho v/||v||, v := mu v + g + wd w."""
    w = [p.detach().clone() for p in model.parameters()]
    v: list[torch.Tensor] | None = None
    for x, y in batches(STEPS):
        if v is None:  # no momentum before the first step: the gradient is taken at w
            point = w
        else:
            norm = torch.sqrt(sum((b * b).sum() for b in v))
            point = [wi - RHO * b / (norm + 1e-12) for wi, b in zip(w, v, strict=True)]
        g = [gi + wd * wi for gi, wi in zip(gradient_at(model, point, x, y), w, strict=True)]
        v = g if v is None else [mu * b + gi for b, gi in zip(v, g, strict=True)]
        w = [wi - lr * b for wi, b in zip(w, v, strict=True)]
    return w


def reference_adamw(model: nn.Module, lr: float, betas: tuple[float, float], wd: float):
    """Momentum-SAM with AdamW: g at w - rho m/||m|| (m: exp_avg), then AdamW from w."""
    w = [p.detach().clone() for p in model.parameters()]
    m = [torch.zeros_like(wi) for wi in w]
    s = [torch.zeros_like(wi) for wi in w]
    (b1, b2), eps = betas, 1e-8
    for t, (x, y) in enumerate(batches(STEPS), start=1):
        norm = torch.sqrt(sum((mi * mi).sum() for mi in m))
        scale = RHO / (norm + 1e-12) if t > 1 else 0.0
        point = [wi - scale * mi for wi, mi in zip(w, m, strict=True)]
        g = gradient_at(model, point, x, y)
        m = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g, strict=True)]
        s = [b2 * si + (1 - b2) * gi * gi for si, gi in zip(s, g, strict=True)]
        c1, c2 = 1 - b1**t, 1 - b2**t
        w = [
            wi * (1 - lr * wd) - lr / c1 * mi / ((si / c2).sqrt() + eps)
            for wi, mi, si in zip(w, m, s, strict=True)
        ]
    return w


def trained(model: nn.Module, base: type[torch.optim.Optimizer], **options: Any) -> MomentumSAM:
    """STEPS closure steps of MomentumSAM around ``base``."""
    opt = MomentumSAM(model.parameters(), base, rho=RHO, **options)
    run(opt, CountingClosure(model, opt), batches(STEPS))
    return opt


# Tolerance, not bitwise: the reference sums ||v|| in another order and keeps w apart, while
# the optimizer moves back by adding rho v/||v|| again (exact to rounding, no copy of w).
def test_sgd_momentum_update_matches_the_reference() -> None:
    model = mlp()
    expected = reference_sgd(mlp(), lr=0.1, mu=0.9, wd=1e-3)
    trained(model, torch.optim.SGD, lr=0.1, momentum=0.9, weight_decay=1e-3)
    for actual, wanted in zip(model.parameters(), expected, strict=True):
        torch.testing.assert_close(actual.detach(), wanted, rtol=1e-5, atol=1e-6)


def test_adamw_update_matches_the_reference() -> None:
    model = mlp()
    expected = reference_adamw(mlp(), lr=0.01, betas=(0.9, 0.999), wd=0.05)
    trained(model, torch.optim.AdamW, lr=0.01, weight_decay=0.05)
    for actual, wanted in zip(model.parameters(), expected, strict=True):
        torch.testing.assert_close(actual.detach(), wanted, rtol=1e-5, atol=1e-6)


def test_the_perturbation_is_real_and_one_pass_per_step() -> None:
    model, plain = mlp(), mlp()
    opt = trained(model, torch.optim.SGD, lr=0.1, momentum=0.9)
    base = torch.optim.SGD(plain.parameters(), lr=0.1, momentum=0.9)
    run(base, CountingClosure(plain, base), batches(STEPS))
    assert not same(weights(model), weights(plain))  # not the base optimizer's run
    stats = opt.stats
    assert stats["grad_evals"] / stats["steps"] == 1.0 and stats["sam_steps"] == 0


def test_weights_are_unperturbed_outside_the_step_and_updated_from_w_bit_for_bit() -> None:
    """Inside the closure the weights sit at w - rho v/||v||; the base optimizer updates w."""
    model, shadow = mlp(), mlp()
    opt = MomentumSAM(
        model.parameters(), torch.optim.SGD, rho=RHO, skip_nonfinite=True, lr=0.1, momentum=0.9
    )
    base = torch.optim.SGD(shadow.parameters(), lr=0.1, momentum=0.9)
    for step, (x, y) in enumerate(batches(STEPS)):
        before = weights(model)
        seen: list[list[torch.Tensor]] = []

        def closure(x: torch.Tensor = x, y: torch.Tensor = y, seen: list = seen) -> torch.Tensor:
            opt.zero_grad()
            seen.append(weights(model))
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            return loss

        opt.step(closure)
        assert same(before, weights(shadow))
        assert same(seen[0], before) == (step == 0)  # perturbed from the second step on
        for p, q in zip(model.parameters(), shadow.parameters(), strict=True):
            q.grad = p.grad.clone()
        base.step()
        assert same(weights(model), weights(shadow)), step  # checkpoints see exactly w


def test_checkpoints_hold_the_unperturbed_weights() -> None:
    model = mlp()
    opt = trained(model, torch.optim.SGD, lr=0.1, momentum=0.9)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    expected = reference_sgd(mlp(), lr=0.1, mu=0.9, wd=0.0)
    for actual, wanted in zip(saved["model"].values(), expected, strict=True):
        torch.testing.assert_close(actual, wanted, rtol=1e-5, atol=1e-6)
    assert saved["optimizer"]["kind"] == "MomentumSAM"


def test_the_two_call_form_without_before_forward_is_refused() -> None:
    model = tiny_model()
    opt = MomentumSAM(model.parameters(), torch.optim.SGD, lr=0.1, momentum=0.9)
    x, y = batches(1)[0]
    nn.functional.cross_entropy(model(x), y).backward()
    with pytest.raises(RuntimeError, match=r"before_forward\(\)"):
        opt.first_step()
    opt.before_forward()
    assert opt.first_step() is False and opt.stats["steps"] == 1


def test_a_closure_that_raises_leaves_the_weights_unperturbed() -> None:
    model = mlp()
    opt = trained(model, torch.optim.SGD, lr=0.1, momentum=0.9)
    before = weights(model)

    def failing() -> torch.Tensor:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        opt.step(failing)
    for a, b in zip(weights(model), before, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert opt.stats["steps"] == STEPS


@pytest.mark.parametrize(
    ("base", "options", "named"),
    [
        (torch.optim.SGD, dict(lr=0.1), r"momentum=0 \(parameter groups \[0\]\)"),
        (torch.optim.Adam, dict(betas=(0.0, 0.99)), r"betas\[0\]=0"),
        (torch.optim.RMSprop, dict(lr=0.1, momentum=0.9), "RMSprop has no momentum buffer"),
    ],
)
def test_a_base_optimizer_without_momentum_is_refused(base: Any, options: Any, named: str) -> None:
    with pytest.raises(ValueError, match=named) as refused:
        MomentumSAM(mlp().parameters(), base, **options)
    assert "SGD with momentum > 0" in str(refused.value)


def test_adaptive_groups_are_refused() -> None:
    with pytest.raises(ValueError, match="adaptive"):
        MomentumSAM(
            [{"params": mlp().parameters(), "adaptive": True}],
            torch.optim.SGD,
            lr=0.1,
            momentum=0.9,
        )


def test_groups_that_are_not_perturbed_keep_their_weights_in_the_pass() -> None:
    model = mlp()
    first, rest = list(model[0].parameters()), list(model[2].parameters())
    groups = [{"params": first, "perturb": False}, {"params": rest}]
    opt = MomentumSAM(groups, torch.optim.SGD, rho=RHO, skip_nonfinite=True, lr=0.1, momentum=0.9)
    run(opt, CountingClosure(model, opt), batches(2))
    fixed, moved = [p.clone() for p in first], [p.clone() for p in rest]
    opt.before_forward()
    assert same(fixed, [p.detach() for p in first])
    assert not same(moved, [p.detach() for p in rest])


def test_registered_and_built_by_name() -> None:
    assert TWO_PASS_METHODS["MomentumSAM"].optimizer_class is MomentumSAM
    opt = build_method("MomentumSAM", mlp().parameters(), torch.optim.AdamW, rho=1.0, lr=1e-3)
    assert isinstance(opt, MomentumSAM) and opt.param_groups[0]["rho"] == 1.0
