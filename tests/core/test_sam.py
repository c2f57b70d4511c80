"""SAM: the two-pass update, statistics freezing, AMP, clipping, groups and arguments."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from arsam.core import SAM
from tests.core.helpers import CountingClosure, batches, run, same, tiny_model, weights


def test_step_equals_hand_computed_two_pass_update() -> None:
    model = tiny_model()
    reference = tiny_model()
    reference.load_state_dict(model.state_dict())
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.1, lr=0.5)
    closure = CountingClosure(model, opt)
    (x, y), *_ = batches(1)
    closure.batch = (x, y)
    opt.step(closure)

    params = list(reference.parameters())
    loss = nn.functional.cross_entropy(reference(x), y)
    g = torch.autograd.grad(loss, params)
    norm = torch.sqrt(sum((gi**2).sum() for gi in g))
    with torch.no_grad():
        for p, gi in zip(params, g, strict=False):
            p.add_(0.1 * gi / (norm + 1e-12))
    reference.train()
    with torch.no_grad():  # the second pass must not move BatchNorm statistics
        bn = reference[1]
        saved = (bn.running_mean.clone(), bn.running_var.clone(), bn.num_batches_tracked.clone())
    g_sam = torch.autograd.grad(nn.functional.cross_entropy(reference(x), y), params)
    with torch.no_grad():
        bn.running_mean.copy_(saved[0]), bn.running_var.copy_(saved[1])
        bn.num_batches_tracked.copy_(saved[2])
        for p, gi, gs in zip(params, g, g_sam, strict=False):
            p.sub_(0.1 * gi / (norm + 1e-12))
            p.sub_(0.5 * gs)
    for p, q in zip(model.parameters(), reference.parameters(), strict=False):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    assert closure.calls == 2 == opt.stats["grad_evals"]


def test_adaptive_perturbation_scales_by_weight_magnitude() -> None:
    w = nn.Parameter(torch.tensor([2.0, -1.0, 0.5]))
    seen = []

    def closure() -> torch.Tensor:
        w.grad = None
        seen.append(w.detach().clone())
        loss = (w * torch.tensor([1.0, 2.0, 3.0])).sum()
        loss.backward()
        return loss

    opt = SAM([w], torch.optim.SGD, rho=0.3, adaptive=True, lr=0.0)
    opt.step(closure)
    g = torch.tensor([1.0, 2.0, 3.0])
    start = torch.tensor([2.0, -1.0, 0.5])
    expected = start + 0.3 * start**2 * g / torch.linalg.vector_norm(start.abs() * g)
    torch.testing.assert_close(seen[1], expected)
    torch.testing.assert_close(w.detach(), start)


def test_batchnorm_statistics_move_once_per_step() -> None:
    model = tiny_model()
    probe = tiny_model()
    probe.load_state_dict(model.state_dict())
    opt = SAM(model.parameters(), torch.optim.SGD, lr=0.1)
    opt.freeze_statistics_of(model)
    closure = CountingClosure(model, opt)
    data = batches(3)
    run(opt, closure, data[:1])
    probe(data[0][0])  # one plain training-mode forward at the starting weights
    bn, probe_bn = model[1], probe[1]
    assert torch.equal(bn.running_mean, probe_bn.running_mean)
    assert torch.equal(bn.running_var, probe_bn.running_var)
    run(opt, closure, data[1:])
    assert int(bn.num_batches_tracked) == 3
    assert bn.track_running_stats


def test_without_registration_the_second_pass_updates_statistics() -> None:
    model = tiny_model()
    opt = SAM(model.parameters(), torch.optim.SGD, lr=0.1)
    run(opt, CountingClosure(model, opt), batches(2))
    assert int(model[1].num_batches_tracked) == 4


def test_group_with_perturb_false_is_not_moved_by_the_perturbation() -> None:
    model = tiny_model()
    frozen = list(model[0].parameters())
    others = [p for p in model.parameters() if all(p is not q for q in frozen)]
    opt = SAM([{"params": frozen, "perturb": False}, {"params": others}], torch.optim.SGD, lr=0.0)
    closure = CountingClosure(model, opt)
    seen = []
    inner = closure.__call__

    def spy() -> torch.Tensor:
        seen.append([p.detach().clone() for p in model.parameters()])
        return inner()

    closure.batch = batches(1)[0]
    opt.step(spy)
    first, second = seen
    assert all(torch.equal(a, b) for a, b in zip(first[:2], second[:2], strict=False))
    assert not all(torch.equal(a, b) for a, b in zip(first[2:], second[2:], strict=False))


def test_lr_scheduler_attached_to_sam_drives_the_base_optimizer() -> None:
    model = tiny_model()
    opt = SAM(model.parameters(), torch.optim.SGD, lr=1.0, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    run(opt, CountingClosure(model, opt), batches(1))
    scheduler.step()
    assert opt.base_optimizer.param_groups[0]["lr"] == 0.5
    assert opt.param_groups is opt.base_optimizer.param_groups


def test_clipping_applies_to_the_gradient_the_base_optimizer_uses() -> None:
    seen = []

    class SpySGD(torch.optim.SGD):
        def step(self, closure=None):  # type: ignore[override]
            grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
            seen.append(float(torch.linalg.vector_norm(torch.stack([x.norm() for x in grads]))))
            return super().step(closure)

    model = tiny_model()
    opt = SAM(model.parameters(), SpySGD, lr=0.1, max_grad_norm=1e-3)
    run(opt, CountingClosure(model, opt), batches(2))
    assert seen and all(n <= 1e-3 * (1 + 1e-4) for n in seen)


def test_bf16_autocast_runs() -> None:
    model = tiny_model()
    opt = SAM(model.parameters(), torch.optim.SGD, lr=0.1)
    closure = CountingClosure(model, opt)
    closure.autocast_dtype = torch.bfloat16
    before = weights(model)
    run(opt, closure, batches(2))
    assert not same(before, weights(model))
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_grad_scaler_matches_the_unscaled_run() -> None:
    plain_model, scaled_model = tiny_model(), tiny_model()
    plain = SAM(plain_model.parameters(), torch.optim.SGD, lr=0.1, momentum=0.9)
    scaled = SAM(scaled_model.parameters(), torch.optim.SGD, lr=0.1, momentum=0.9)
    scaled_closure = CountingClosure(scaled_model, scaled)
    scaled_closure.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    run(plain, CountingClosure(plain_model, plain), batches(3))
    run(scaled, scaled_closure, batches(3))
    for p, q in zip(plain_model.parameters(), scaled_model.parameters(), strict=False):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("use_scaler", [False, True])
@pytest.mark.parametrize("bad_pass", [1, 2])
def test_nonfinite_gradients_leave_every_state_untouched(use_scaler: bool, bad_pass: int) -> None:
    model = tiny_model()
    opt = SAM(model.parameters(), torch.optim.SGD, lr=0.1, momentum=0.9, skip_nonfinite=True)
    opt.freeze_statistics_of(model)
    closure = CountingClosure(model, opt)
    if use_scaler:
        closure.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8)
    run(opt, closure, batches(2))
    before = weights(model)
    optimizer_state = opt.state_dict()

    calls = closure.calls
    inner = closure.__call__

    def poisoned() -> torch.Tensor:
        closure.loss_factor = float("inf") if closure.calls - calls == bad_pass - 1 else 1.0
        return inner()

    closure.batch = batches(1, seed=5)[0]
    if use_scaler:
        scale = closure.scaler.get_scale()
        opt.step(poisoned, grad_scaler=closure.scaler)
        closure.scaler.update()
        assert closure.scaler.get_scale() < scale
    else:
        opt.step(poisoned)
    assert same(
        before[:-3], weights(model)[:-3]
    )  # parameters; the forward may move BatchNorm stats
    assert opt.stats["steps"] == 2 and opt.stats["skipped_steps"] == 1
    after = opt.state_dict()
    momentum = optimizer_state["base_optimizer"]["state"]
    assert all(
        torch.equal(
            momentum[k]["momentum_buffer"], after["base_optimizer"]["state"][k]["momentum_buffer"]
        )
        for k in momentum
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(rho=-0.1), "rho must lie in"),
        (dict(rho=float("nan")), "rho must be finite"),
        (dict(rho="0.05"), "rho must be a number"),
        (dict(max_grad_norm=0.0), "max_grad_norm must lie in"),
    ],
)
def test_invalid_arguments_are_rejected(kwargs: dict, message: str) -> None:
    model = tiny_model()
    with pytest.raises((ValueError, TypeError), match=message):
        SAM(model.parameters(), torch.optim.SGD, lr=0.1, **kwargs)


def test_base_optimizer_must_be_an_optimizer_class() -> None:
    model = tiny_model()
    with pytest.raises(TypeError, match="not an instance"):
        SAM(model.parameters(), torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(TypeError, match=r"must be a torch\.optim\.Optimizer subclass"):
        SAM(model.parameters(), "SGD", lr=0.1)


def test_step_without_closure_explains_what_it_needs() -> None:
    model = tiny_model()
    opt = SAM(model.parameters(), torch.optim.SGD, lr=0.1)
    with pytest.raises(TypeError, match=r"SAM.step\(\) needs a closure"):
        opt.step()


def test_state_dict_of_another_optimizer_is_refused() -> None:
    model = tiny_model()
    opt = SAM(model.parameters(), torch.optim.SGD, lr=0.1)
    with pytest.raises(ValueError, match="written by"):
        opt.load_state_dict(torch.optim.SGD(model.parameters(), lr=0.1).state_dict())


@pytest.mark.parametrize("exact", [False, True])
def test_the_perturbation_is_undone(exact: bool) -> None:
    model = tiny_model()
    before = [p.detach().clone() for p in model.parameters()]
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.5, lr=0.0, skip_nonfinite=exact)
    run(opt, CountingClosure(model, opt), batches(1))
    for p, q in zip(model.parameters(), before):
        if exact:  # restored from a copy
            assert torch.equal(p, q)
        else:  # the same e subtracted again: within rounding of the weights
            torch.testing.assert_close(p, q, rtol=0, atol=1e-7)
