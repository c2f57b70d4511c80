"""ESAM: the perturbed subset and its scale, data selection, refusals, cost and a reference."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from arsam.core import ESAM, TWO_PASS_METHODS, build_method

from .helpers import batches, host_reads_per_step

RHO, LR, MOMENTUM = 0.1, 0.05, 0.9


def mlp(seed: int = 0) -> nn.Module:
    """A small MLP without statistics, so that a reference can step it by hand."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3)
    )


class SampleClosure:
    """ESAM's data-selection closure over one batch: per-sample losses, ``subset``, ``backward``."""

    def __init__(self, model: nn.Module, opt: torch.optim.Optimizer) -> None:
        self.model, self.opt = model, opt
        self.batch: tuple[Tensor, Tensor] | None = None
        self.calls: list[tuple[int, bool]] = []  # (samples, backward) of each call

    def __call__(self, subset: Tensor | None = None, backward: bool = True) -> Tensor:
        assert self.batch is not None
        x, y = self.batch
        if subset is not None:
            x, y = x[subset], y[subset]
        losses = F.cross_entropy(self.model(x), y, reduction="none")
        self.calls.append((len(y), backward))
        if backward:
            self.opt.zero_grad()
            losses.mean().backward()
        return losses


def scalar_closure(model: nn.Module, opt: torch.optim.Optimizer, batch: tuple) -> object:
    """A plain closure returning the batch's mean loss."""

    def closure() -> Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(model(batch[0]), batch[1])
        loss.backward()
        return loss

    return closure


def esam(model: nn.Module, **options: object) -> ESAM:
    return ESAM(model.parameters(), torch.optim.SGD, rho=RHO, lr=LR, momentum=MOMENTUM, **options)


def test_defaults_are_the_papers_cifar_settings() -> None:
    opt = ESAM(mlp().parameters(), torch.optim.SGD, lr=0.1)
    assert opt.rule.settings() == {"beta": 0.6, "gamma": 0.5, "seed": 0}
    assert "ESAM" in TWO_PASS_METHODS and TWO_PASS_METHODS["ESAM"].contract_options == {
        "gamma": 1.0
    }


def test_each_tensor_is_perturbed_with_probability_beta_and_scaled_by_one_over_beta() -> None:
    beta, seed = 0.5, 3
    model = mlp()
    opt = esam(model, beta=beta, gamma=1.0, seed=seed)
    params = list(model.parameters())
    draws = torch.Generator().manual_seed(seed)
    seen_kept = seen_dropped = 0
    for x, y in batches(6, size=16):
        before = [p.detach().clone() for p in params]
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        g = [p.grad.clone() for p in params]
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t) for t in g]))
        kept = (torch.rand(len(params), generator=draws) < beta).tolist()
        assert opt.first_step()
        for p, w, grad, keep in zip(params, before, g, kept, strict=True):
            expected = RHO / beta * grad / (norm + 1e-12) if keep else torch.zeros_like(w)
            torch.testing.assert_close(p.detach() - w, expected, atol=1e-6, rtol=1e-4)
        seen_kept += sum(kept)
        seen_dropped += len(kept) - sum(kept)
        F.cross_entropy(model(x), y).backward()
        opt.second_step()
    assert seen_kept and seen_dropped  # both cases were checked


def test_beta_one_is_sams_perturbation() -> None:
    data = batches(5)
    model_a, model_b = mlp(), mlp()
    opt_a = esam(model_a, beta=1.0, gamma=1.0)
    opt_b = build_method(
        "SAM", model_b.parameters(), torch.optim.SGD, rho=RHO, lr=LR, momentum=MOMENTUM
    )
    for batch in data:
        opt_a.step(scalar_closure(model_a, opt_a, batch))
        opt_b.step(scalar_closure(model_b, opt_b, batch))
    for a, b in zip(model_a.parameters(), model_b.parameters(), strict=True):
        assert torch.equal(a, b)


def test_second_pass_gradient_is_the_selected_samples_mean_loss_gradient() -> None:
    model = mlp()
    opt = ESAM(model.parameters(), torch.optim.SGD, rho=RHO, lr=0.0, beta=1.0, gamma=0.25)
    params = list(model.parameters())
    closure = SampleClosure(model, opt)
    x, y = closure.batch = batches(1, size=32)[0]

    with torch.no_grad():
        before = F.cross_entropy(model(x), y, reduction="none")
    grads = torch.autograd.grad(F.cross_entropy(model(x), y), params)
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t) for t in grads]))
    with torch.no_grad():
        for p, g in zip(params, grads, strict=True):
            p.add_(RHO * g / (norm + 1e-12))
        rise = F.cross_entropy(model(x), y, reduction="none") - before
    chosen = torch.topk(rise, 8).indices
    expected = torch.autograd.grad(F.cross_entropy(model(x[chosen]), y[chosen]), params)
    with torch.no_grad():
        for p, g in zip(params, grads, strict=True):
            p.sub_(RHO * g / (norm + 1e-12))

    losses = opt.step(closure)
    assert losses.shape == (32,)
    assert closure.calls == [(32, True), (32, False), (8, True)]
    for p, g in zip(params, expected, strict=True):
        torch.testing.assert_close(p.grad, g, atol=1e-6, rtol=1e-4)


def reference_esam(model: nn.Module, data: list, beta: float, gamma: float, seed: int) -> None:
    """ESAM written out step by step: per-tensor masks, selection, SGD with momentum."""
    params = list(model.parameters())
    draws = torch.Generator().manual_seed(seed)
    buffers: list[Tensor | None] = [None] * len(params)
    for x, y in data:
        losses = F.cross_entropy(model(x), y, reduction="none")
        grads = torch.autograd.grad(losses.mean(), params)
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        kept = torch.rand(len(params), generator=draws) < beta
        with torch.no_grad():
            shifts = [
                (RHO / beta) * g / (norm + 1e-12) if keep else torch.zeros_like(g)
                for g, keep in zip(grads, kept, strict=True)
            ]
            for p, e in zip(params, shifts, strict=True):
                p.add_(e)
            if gamma < 1.0:
                rise = F.cross_entropy(model(x), y, reduction="none") - losses
                chosen = torch.topk(rise, max(1, int(len(y) * gamma))).indices
            else:
                chosen = torch.arange(len(y))
        selected = torch.autograd.grad(F.cross_entropy(model(x[chosen]), y[chosen]), params)
        with torch.no_grad():
            for i, (p, e, g) in enumerate(zip(params, shifts, selected, strict=True)):
                p.sub_(e)
                buffers[i] = g.clone() if buffers[i] is None else buffers[i].mul_(MOMENTUM).add_(g)
                p.add_(buffers[i], alpha=-LR)


@pytest.mark.parametrize(("beta", "gamma"), [(0.6, 0.5), (0.5, 1.0), (1.0, 0.25)])
def test_matches_a_straightforward_reference(beta: float, gamma: float) -> None:
    data = batches(12, size=24)
    model, reference = mlp(), mlp()
    opt = esam(model, beta=beta, gamma=gamma, seed=4)
    closure = SampleClosure(model, opt)
    for batch in data:
        closure.batch = batch
        opt.step(closure)
    reference_esam(reference, data, beta, gamma, seed=4)
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=1e-4)


def test_passes_count_the_share_of_the_batch_each_pass_uses() -> None:
    model = mlp()
    opt = esam(model, gamma=0.5)
    closure = SampleClosure(model, opt)
    for batch in batches(4, size=30):
        closure.batch = batch
        opt.step(closure)
    stats = opt.stats
    assert stats["grad_evals"] == 8 and stats["sam_steps"] == stats["steps"] == 4
    assert stats["passes"] == pytest.approx(4 * (1 + 15 / 30))
    assert stats["passes_per_step"] == pytest.approx(1.5)
    assert stats["selection_forwards"] == 4
    assert closure.calls == [(30, True), (30, False), (15, True)] * 4

    other = mlp()
    plain = esam(other, gamma=1.0)
    for batch in batches(3):
        plain.step(scalar_closure(other, plain, batch))
    assert plain.stats["passes"] == 6 and plain.stats["selection_forwards"] == 0


def test_passes_resume_with_the_state() -> None:
    model = mlp()
    opt = esam(model, gamma=0.5)
    closure = SampleClosure(model, opt)
    for batch in batches(3):
        closure.batch = batch
        opt.step(closure)
    resumed = esam(mlp(), gamma=0.5)
    resumed.load_state_dict(opt.state_dict())
    assert resumed.stats["passes"] == opt.stats["passes"] == pytest.approx(4.5)
    assert torch.equal(resumed.rule.generator.get_state(), opt.rule.generator.get_state())


REFUSED = "needs one loss per sample"


def test_a_scalar_closure_is_refused_with_the_way_out() -> None:
    model = mlp()
    opt = esam(model)
    batch = batches(1)[0]
    with pytest.raises(ValueError, match=REFUSED) as refused:
        opt.step(scalar_closure(model, opt, batch))
    message = str(refused.value)
    assert "gamma=1.0" in message and "subset" in message and "backward" in message
    assert "\n" not in message

    def scalar_with_keywords(subset: Tensor | None = None, backward: bool = True) -> Tensor:
        return scalar_closure(model, opt, batch)()

    with pytest.raises(ValueError, match="returned \\(\\) instead of a 1-D tensor"):
        opt.step(scalar_with_keywords)
    assert opt.stats["steps"] == 0


def test_loops_without_per_sample_losses_are_refused() -> None:
    model = mlp()
    opt = esam(model)
    x, y = batches(1)[0]
    F.cross_entropy(model(x), y).backward()
    with pytest.raises(ValueError, match=f"{REFUSED}.*two-call API"):
        opt.first_step()
    with pytest.raises(ValueError, match=f"{REFUSED}.*already run the first pass"):
        opt.step(second_pass=scalar_closure(model, opt, (x, y)))
    assert opt.stats["steps"] == 0 and opt.stats["grad_evals"] == 0


def test_gamma_one_runs_the_two_call_api() -> None:
    model = mlp()
    opt = esam(model, gamma=1.0)
    x, y = batches(1)[0]
    F.cross_entropy(model(x), y).backward()
    assert opt.first_step()
    F.cross_entropy(model(x), y).backward()
    opt.second_step()
    assert opt.stats["steps"] == 1 and opt.stats["passes"] == 2


def test_data_selection_reads_nothing_on_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    model = mlp()
    opt = esam(model)
    assert opt.host_reads_ahead() == 0
    counted = host_reads_per_step(monkeypatch, opt, SampleClosure(model, opt), batches(3))
    assert counted == [0, 0, 0]


@pytest.mark.parametrize(
    ("options", "name"),
    [(dict(beta=0.0), "beta"), (dict(gamma=1.5), "gamma"), (dict(seed=0.5), "seed")],
)
def test_bad_settings_name_the_argument(options: dict, name: str) -> None:
    with pytest.raises((ValueError, TypeError), match=name):
        esam(mlp(), **options)
