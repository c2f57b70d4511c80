"""The peers of ARSAM (SAM-k, LookSAM, AE-SAM, RST): each defining rule and its arguments.

What every method keeps (pass counts, resume, non-finite steps, host reads) is
tests/core/test_contract.py.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import nn

from arsam.core import AESAM, SAM, SAMK, LateSAM, LookSAM, RandomSAM
from tests.core.helpers import (
    CountingClosure,
    batches,
    run,
    same,
    tiny_model,
    weights,
)

BASE = dict(lr=0.05, momentum=0.9, weight_decay=5e-4)
PEERS: dict[str, tuple[type[SAM], dict[str, Any]]] = {
    "SAMK": (SAMK, dict(k=3)),
    "LookSAM": (LookSAM, dict(k=3, alpha=0.7)),
    "AESAM": (AESAM, dict(total_steps=10)),
    "RandomSAM": (RandomSAM, dict(p_start=0.5, seed=3)),
}


def make(name: str, model: nn.Module, **kwargs: Any) -> SAM:
    cls, defaults = PEERS[name]
    opt = cls(model.parameters(), torch.optim.SGD, **{**BASE, **defaults, **kwargs})
    opt.freeze_statistics_of(model)
    return opt


def sam_flags(opt: SAM, closure: CountingClosure, data: list) -> list[bool]:
    """Step once per batch; whether each step was a SAM step."""
    flags = []
    for batch in data:
        before = opt.stats["sam_steps"]
        closure.batch = batch
        opt.step(closure)
        flags.append(opt.stats["sam_steps"] > before)
    return flags


class SetGradClosure:
    """A closure that gives one 4-element parameter a gradient of L2 norm ``values[t]``."""

    def __init__(self, values: list[float]) -> None:
        self.param = nn.Parameter(torch.zeros(4))
        self.values = values
        self.t = 0
        self.calls = 0

    def __call__(self) -> torch.Tensor:
        self.calls += 1
        self.param.grad = torch.full((4,), self.values[self.t] / 2)
        return torch.zeros(())


def drive(opt: SAM, closure: SetGradClosure) -> list[bool]:
    """Run one step per value of ``closure``; whether each step was a SAM step."""
    flags = []
    for t in range(len(closure.values)):
        closure.t = t
        calls = closure.calls
        opt.step(closure)
        flags.append(closure.calls - calls == 2)
    return flags


def flat(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


# ------------------------------------------------------------------- SAM-k
def test_samk_runs_sam_exactly_at_multiples_of_k() -> None:
    model = tiny_model()
    opt = make("SAMK", model, k=3)
    closure = CountingClosure(model, opt)
    assert sam_flags(opt, closure, batches(10)) == [t % 3 == 0 for t in range(10)]
    assert closure.calls == opt.stats["grad_evals"] == 10 + 4


def test_samk_is_sam_on_its_sam_steps_and_the_base_optimizer_elsewhere() -> None:
    a, b = tiny_model(), tiny_model()
    opt = make("SAMK", a, k=4)
    ref = SAM(b.parameters(), torch.optim.SGD, **BASE)
    ref.freeze_statistics_of(b)
    ref_closure = CountingClosure(b, ref)
    data = batches(9)
    run(opt, CountingClosure(a, opt), data)
    for t, batch in enumerate(data):
        ref_closure.batch = batch
        if t % 4 == 0:
            ref.step(ref_closure)
        else:
            ref_closure()
            ref.base_optimizer.step()
    assert same(weights(a), weights(b))


# ----------------------------------------------------------------- LookSAM
def test_looksam_reuse_step_adds_the_scaled_orthogonal_component() -> None:
    received: list[torch.Tensor] = []

    class SpySGD(torch.optim.SGD):
        def step(self, closure=None):  # type: ignore[override]
            received.append(flat([p.grad for g in self.param_groups for p in g["params"]]))
            return super().step(closure)

    model = tiny_model()
    opt = LookSAM(model.parameters(), SpySGD, lr=0.05, momentum=0.9, k=3, alpha=0.7)
    closure = CountingClosure(model, opt)
    passes: list[torch.Tensor] = []
    inner = closure.__call__

    def spy() -> torch.Tensor:
        loss = inner()
        passes.append(flat([p.grad for p in model.parameters()]))
        return loss

    for batch in batches(3):
        closure.batch = batch
        opt.step(spy)
    assert len(passes) == 4  # SAM step (2 passes), then two reuse steps
    g, g_sam = passes[0], passes[1]
    g_v = g_sam - (g_sam @ g) / (g @ g) * g
    assert abs(float(g_v @ g)) < 1e-5 * float(g_v.norm() * g.norm())
    torch.testing.assert_close(received[0], g_sam)
    direction = flat([opt.state[p]["g_v_direction"] for p in model.parameters()])
    torch.testing.assert_close(direction, g_v / g_v.norm(), rtol=1e-4, atol=1e-6)
    for step in (1, 2):
        g_t = passes[step + 1]
        expected = g_t + 0.7 * g_t.norm() / g_v.norm() * g_v
        torch.testing.assert_close(received[step], expected, rtol=1e-4, atol=1e-6)


def test_looksam_with_alpha_zero_is_samk() -> None:
    a, b = tiny_model(), tiny_model()
    look, samk = make("LookSAM", a, k=3, alpha=0.0), make("SAMK", b, k=3)
    run(look, CountingClosure(a, look), batches(7))
    run(samk, CountingClosure(b, samk), batches(7))
    assert same(weights(a), weights(b))


# ------------------------------------------------------------------- AE-SAM
def test_aesam_applies_its_rule_to_the_squared_gradient_norm() -> None:
    norms = [1.0, 1.0, 1.2, 1.0, 3.0, 1.0, 0.9, 1.0, 0.5, 1.1, 2.0, 1.0, 1.0, 1.0, 1.5, 1.0]
    closure = SetGradClosure(norms)
    opt = AESAM([closure.param], torch.optim.SGD, lr=0.0, total_steps=len(norms))
    expected = []
    mean = variance = 0.0
    for t, norm in enumerate(norms):
        squared = norm * norm
        mean = 0.9 * mean + 0.1 * squared
        variance = 0.9 * variance + 0.1 * (squared - mean) ** 2
        c_t = -1.0 + 2.0 * t / len(norms)
        expected.append(squared >= mean + c_t * math.sqrt(variance))
    assert any(expected) and not all(expected)
    assert drive(opt, closure) == expected
    assert opt.stats["grad_evals"] == closure.calls == len(norms) + sum(expected)
    assert opt.stats["grad_norm_sq_mean"] == pytest.approx(mean, rel=1e-6)
    assert opt.stats["grad_norm_sq_std"] == pytest.approx(math.sqrt(variance), rel=1e-6)


def test_aesam_first_step_is_sam_and_a_spike_triggers_sam() -> None:
    # mu_0 = 0.1 s and sigma_0 = 0.285 s, so even with c = 1 the first step is a SAM step.
    closure = SetGradClosure([1.0] * 40 + [2.0])
    opt = AESAM([closure.param], torch.optim.SGD, lr=0.0, total_steps=41, lambda_1=1, lambda_2=1)
    flags = drive(opt, closure)
    assert flags[0] and flags[-1]
    assert not any(flags[20:-1])  # a constant norm sits below mu + sigma once mu has caught up


def test_aesam_threshold_coefficient_is_linear_in_the_step() -> None:
    opt = AESAM([nn.Parameter(torch.zeros(1))], torch.optim.SGD, lr=0.1, total_steps=100)
    assert [opt.rule.threshold_coefficient(t) for t in (0, 25, 50, 100, 250)] == [
        -1.0,
        -0.5,
        0.0,
        1.0,
        1.0,
    ]
    assert opt.rule.threshold_coefficient() == -1.0
    other = AESAM(
        [nn.Parameter(torch.zeros(1))],
        torch.optim.SGD,
        lr=0.1,
        total_steps=8,
        lambda_1=-2.0,
        lambda_2=0.5,
    )
    assert other.rule.threshold_coefficient(2) == pytest.approx(-2.0 + 2.5 / 4)


# ---------------------------------------------------------------------- RST
def test_rst_realised_fraction_is_near_p() -> None:
    closure = SetGradClosure([1.0])
    opt = RandomSAM([closure.param], torch.optim.SGD, lr=0.0, p_start=0.3, seed=5)
    for _ in range(2000):
        opt.step(closure)
    assert abs(opt.stats["sam_fraction"] - 0.3) < 0.05
    assert closure.calls == opt.stats["grad_evals"] == 2000 + opt.stats["sam_steps"]


def test_rst_same_seed_same_decisions() -> None:
    def decisions(seed: int) -> list[bool]:
        closure = SetGradClosure([1.0] * 200)
        opt = RandomSAM([closure.param], torch.optim.SGD, lr=0.0, seed=seed)
        return drive(opt, closure)

    assert decisions(11) == decisions(11)
    assert decisions(11) != decisions(12)


def test_rst_linear_schedule() -> None:
    closure = SetGradClosure([1.0] * 1000)
    opt = RandomSAM(
        [closure.param], torch.optim.SGD, lr=0.0, p_start=0.0, p_end=1.0, total_steps=1000
    )
    assert [opt.rule.probability(t) for t in (0, 500, 1000, 5000)] == [0.0, 0.5, 1.0, 1.0]
    flags = drive(opt, closure)
    assert not flags[0]
    assert sum(flags[:200]) < 0.25 * 200 and sum(flags[-200:]) > 0.75 * 200
    assert opt.stats["sam_probability"] == 1.0


# ----------------------------------------------------------- all the peers
ALWAYS_SAM = [
    ("SAMK", dict(k=1)),
    ("LookSAM", dict(k=1)),
    ("AESAM", dict(lambda_1=-1e6, lambda_2=-1e6)),
    ("RandomSAM", dict(p_start=1.0)),
]


@pytest.mark.parametrize(("name", "kwargs"), ALWAYS_SAM)
def test_always_sam_settings_reproduce_sam(name: str, kwargs: dict) -> None:
    a, b = tiny_model(), tiny_model()
    opt = make(name, a, **kwargs)
    ref = SAM(b.parameters(), torch.optim.SGD, **BASE)
    ref.freeze_statistics_of(b)
    run(opt, CountingClosure(a, opt), batches(6))
    run(ref, CountingClosure(b, ref), batches(6))
    assert same(weights(a), weights(b))
    assert opt.stats["sam_steps"] == 6


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("AESAM", dict(lambda_1=1e6, lambda_2=1e6)), ("RandomSAM", dict(p_start=0.0))],
)
def test_never_sam_settings_reproduce_the_base_optimizer(name: str, kwargs: dict) -> None:
    a, b = tiny_model(), tiny_model()
    opt = make(name, a, **kwargs)
    ref = torch.optim.SGD(b.parameters(), **BASE)
    closure = CountingClosure(a, opt)
    run(opt, closure, batches(6))
    run(ref, CountingClosure(b, ref), batches(6))
    assert same(weights(a), weights(b))
    assert closure.calls == opt.stats["grad_evals"] == 6 and opt.stats["sam_steps"] == 0


@pytest.mark.parametrize("name", list(PEERS))
def test_a_loss_scaled_run_matches_the_unscaled_one(name: str) -> None:
    a, b = tiny_model(), tiny_model()
    opt_a, opt_b = make(name, a), make(name, b)
    closure_b = CountingClosure(b, opt_b)
    closure_b.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**4, growth_interval=1)
    run(opt_a, CountingClosure(a, opt_a), batches(10))
    run(opt_b, closure_b, batches(10))
    assert closure_b.scaler.get_scale() == 2.0**14  # a new loss scale at every step
    assert opt_b.stats == pytest.approx(opt_a.stats, rel=1e-6)
    for x, y in zip(weights(a), weights(b), strict=True):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6)


def _next_is_sam(opt: SAM) -> bool:
    if isinstance(opt, SAMK):
        return opt.counters["steps"] % opt.k == 0
    if isinstance(opt, RandomSAM):
        return opt.draw < opt.rule.probability()
    return True  # AESAM: built below with thresholds that make every step a SAM step


@pytest.mark.parametrize(
    ("name", "kwargs", "error", "message"),
    [
        ("SAMK", dict(k=0), ValueError, "k must lie in"),
        ("SAMK", dict(k=2.5), TypeError, "k must be an integer"),
        ("SAMK", dict(k=True), TypeError, "k must be an integer"),
        ("SAMK", dict(rho=-0.1), ValueError, "rho must lie in"),
        ("LookSAM", dict(k=0), ValueError, "k must lie in"),
        ("LookSAM", dict(alpha=-0.5), ValueError, "alpha must lie in"),
        ("LookSAM", dict(alpha="0.7"), TypeError, "alpha must be a number"),
        ("AESAM", dict(total_steps=0), ValueError, "total_steps must lie in"),
        ("AESAM", dict(delta=1.0), ValueError, r"delta must lie in \[0, 1\)"),
        ("AESAM", dict(delta=-0.1), ValueError, "delta must lie in"),
        ("AESAM", dict(lambda_1=math.inf), ValueError, "lambda_1 must be finite"),
        ("AESAM", dict(lambda_2=None), TypeError, "lambda_2 must be a number"),
        ("RandomSAM", dict(p_start=1.5), ValueError, "p_start must lie in"),
        ("RandomSAM", dict(p_end=-0.1, total_steps=10), ValueError, "p_end must lie in"),
        ("RandomSAM", dict(p_end=0.9, total_steps=0), ValueError, "total_steps must lie in"),
        ("RandomSAM", dict(seed=1.5), TypeError, "seed must be an integer"),
    ],
)
def test_invalid_arguments_name_the_argument(
    name: str, kwargs: dict, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        make(name, tiny_model(), **kwargs)


# ------------------------------------------- the run's length, given late
LENGTH_TAKERS: dict[str, tuple[type[SAM], dict[str, Any]]] = {
    "LateSAM": (LateSAM, dict(sam_fraction=0.25)),
    "AESAM": (AESAM, dict()),
    "RandomSAM": (RandomSAM, dict(p_start=0.0, p_end=1.0, seed=3)),
}
VARYING_NORMS = [1.0 + 0.5 * math.sin(1.7 * t) for t in range(40)]


def build_length_taker(name: str, closure: SetGradClosure, **kwargs: Any) -> SAM:
    cls, options = LENGTH_TAKERS[name]
    return cls([closure.param], torch.optim.SGD, lr=0.0, **options, **kwargs)


@pytest.mark.parametrize("name", list(LENGTH_TAKERS))
def test_the_runs_length_may_come_before_the_first_step(name: str) -> None:
    reference = SetGradClosure(VARYING_NORMS)
    expected = drive(build_length_taker(name, reference, total_steps=40), reference)
    assert set(expected) == {False, True}  # both kinds of step occur
    closure = SetGradClosure(VARYING_NORMS)
    opt = build_length_taker(name, closure)
    with pytest.raises(ValueError, match=f"^{name}.*does not know the run's length"):
        opt.step(closure)
    closure()
    with pytest.raises(ValueError, match="set_total_steps"):
        opt.first_step()
    assert closure.calls == 1 and opt.stats["grad_evals"] == 0 and opt.stats["steps"] == 0
    opt.set_total_steps(40)
    assert drive(opt, closure) == expected
    opt.set_total_steps(40)  # the same length again is fine
    with pytest.raises(ValueError, match="cannot change after training started"):
        opt.set_total_steps(80)


@pytest.mark.parametrize("name", list(LENGTH_TAKERS))
def test_a_saved_length_must_be_given_before_loading(name: str) -> None:
    closure = SetGradClosure(VARYING_NORMS[:5])
    saved = build_length_taker(name, closure, total_steps=40)
    drive(saved, closure)
    fresh = build_length_taker(name, SetGradClosure([]))
    with pytest.raises(ValueError, match="total_steps: checkpoint 40, this optimizer None"):
        fresh.load_state_dict(saved.state_dict())
    fresh.set_total_steps(40)
    fresh.load_state_dict(saved.state_dict())
    assert fresh.stats == saved.stats
    with pytest.raises(ValueError, match="cannot change after training started"):
        fresh.set_total_steps(80)


def test_a_constant_randomsam_keeps_the_length_it_was_built_with() -> None:
    closure = SetGradClosure([1.0] * 4)
    opt = RandomSAM([closure.param], torch.optim.SGD, lr=0.0, p_start=0.5)
    opt.set_total_steps(40)  # a constant probability takes no length: settings stay as built
    assert opt.state_dict()["rule"]["settings"]["total_steps"] is None
    assert len(drive(opt, closure)) == 4


# ------------------------------------------------------------------ LateSAM


def test_latesam_runs_sam_exactly_on_the_final_fraction() -> None:
    closure = SetGradClosure([1.0] * 40)
    opt = LateSAM([closure.param], torch.optim.SGD, lr=0.0, total_steps=40, sam_fraction=0.25)
    assert drive(opt, closure) == [False] * 30 + [True] * 10
    assert opt.stats["grad_evals"] == 50


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(total_steps=0), ValueError, "total_steps must lie in"),
        (dict(total_steps=10, sam_fraction=1.5), ValueError, "sam_fraction must lie in"),
    ],
)
def test_latesam_arguments_name_the_argument(
    kwargs: dict, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        LateSAM(tiny_model().parameters(), torch.optim.SGD, lr=0.1, **kwargs)
