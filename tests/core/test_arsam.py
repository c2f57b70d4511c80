"""ARSAM with the paper's schedule: warm-up, windows and quota, PSF reuse, syncs, arguments."""

from __future__ import annotations

import io
import math

import pytest
import torch

from arsam.core import ARSAM, SAM, ARSAMPaper
from tests.core.helpers import (
    CountingClosure,
    batches,
    equal_state,
    host_reads_per_step,
    run,
    same,
    tiny_model,
    weights,
)


def make(model: torch.nn.Module, **kwargs) -> ARSAMPaper:
    options = dict(lr=0.05, momentum=0.9, window=10, warmup_steps=4, stat_params=4)
    options.update(kwargs)
    opt = ARSAMPaper(model.parameters(), torch.optim.SGD, **options)
    opt.freeze_statistics_of(model)
    return opt


def test_warmup_follows_sam_exactly() -> None:
    a, b = tiny_model(), tiny_model()
    arsam = make(a, warmup_steps=6)
    sam = SAM(b.parameters(), torch.optim.SGD, lr=0.05, momentum=0.9)
    sam.freeze_statistics_of(b)
    run(arsam, CountingClosure(a, arsam), batches(6))
    run(sam, CountingClosure(b, sam), batches(6))
    assert same(weights(a), weights(b))
    assert arsam.stats["sam_steps"] == 6


def test_each_window_holds_floor_quota_sam_steps() -> None:
    model = tiny_model()
    opt = make(model, warmup_steps=3, window=10)
    record: list[tuple[bool, float]] = []
    previous = [0]

    def after(_: int) -> None:
        record.append((opt.stats["sam_steps"] > previous[0], opt.schedule.quota))
        previous[0] = opt.stats["sam_steps"]

    quotas = []
    closure = CountingClosure(model, opt)
    data = batches(83)
    for i, batch in enumerate(data):
        if i >= 3 and (i - 3) % 10 == 0:
            quotas.append(opt.schedule.quota)
        closure.batch = batch
        opt.step(closure)
        after(i)
    sam_flags = [flag for flag, _ in record]
    assert all(sam_flags[:3])
    windows = [sam_flags[3 + 10 * w : 13 + 10 * w] for w in range(8)]
    assert [sum(w) for w in windows] == [math.floor(q) for q in quotas[:8]]
    assert quotas[0] == 1.0
    assert len(set(quotas)) > 1  # the quota adapts
    assert closure.calls == opt.stats["grad_evals"] == 83 + opt.stats["sam_steps"]


def test_reuse_steps_mix_decayed_psf_then_plain_gradients() -> None:
    received: list[list[torch.Tensor]] = []

    class SpySGD(torch.optim.SGD):
        def step(self, closure=None):  # type: ignore[override]
            received.append([p.grad.clone() for g in self.param_groups for p in g["params"]])
            return super().step(closure)

    model = tiny_model()
    opt = ARSAMPaper(
        model.parameters(),
        SpySGD,
        lr=0.05,
        warmup_steps=1,
        window=50,
        reuse_steps=3,
        reuse_decay=0.6,
    )
    closure = CountingClosure(model, opt)
    first_pass: list[list[torch.Tensor]] = []
    inner = closure.__call__

    def spy() -> torch.Tensor:
        loss = inner()
        first_pass.append([p.grad.clone() for p in model.parameters()])
        return loss

    data = batches(6)
    closure.batch = data[0]
    opt.step(spy)
    psf = [opt.state[p]["psf"].clone() for p in model.parameters()]
    opt.schedule.plan = [False] * 50  # no SAM step in this window
    for k, batch in enumerate(data[1:], start=1):
        closure.batch = batch
        opt.step(spy)
        mixed = received[k]
        g = first_pass[-1]
        c = 0.6**k if k <= 3 else 0.0
        for m, gi, pi in zip(mixed, g, psf, strict=False):
            torch.testing.assert_close(m, gi + c * pi, rtol=1e-5, atol=1e-7)
    assert closure.calls == 2 + 5


def test_psf_is_sam_gradient_minus_sgd_gradient() -> None:
    model = tiny_model()
    opt = make(model, warmup_steps=1)
    closure = CountingClosure(model, opt)
    grads = []
    inner = closure.__call__

    def spy() -> torch.Tensor:
        loss = inner()
        grads.append([p.grad.clone() for p in model.parameters()])
        return loss

    closure.batch = batches(1)[0]
    opt.step(spy)
    for p, g, g_sam in zip(model.parameters(), *grads, strict=False):
        torch.testing.assert_close(opt.state[p]["psf"], g_sam - g)


@pytest.mark.parametrize("use_scaler", [False, True])
@pytest.mark.parametrize("bad", ["sam-pass-1", "sam-pass-2", "reuse"])
def test_nonfinite_step_changes_no_state(use_scaler: bool, bad: str) -> None:
    model = tiny_model()
    opt = make(model, warmup_steps=2, skip_nonfinite=not use_scaler)
    closure = CountingClosure(model, opt)
    if use_scaler:
        closure.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8)
    run(opt, closure, batches(3))
    want_sam = bad != "reuse"
    while opt.schedule.is_sam_step(opt.counters["steps"]) != want_sam:
        run(opt, closure, batches(1, seed=9))
    before_weights = [p.detach().clone() for p in model.parameters()]
    before = opt.state_dict()
    buffer = io.BytesIO()
    torch.save(before, buffer)
    calls = closure.calls
    bad_call = 1 if bad == "sam-pass-2" else 0
    inner = closure.__call__

    def poisoned() -> torch.Tensor:
        closure.loss_factor = float("nan") if closure.calls - calls == bad_call else 1.0
        return inner()

    closure.batch = batches(1, seed=11)[0]
    if use_scaler:
        opt.step(poisoned, grad_scaler=closure.scaler)
        closure.scaler.update()
    else:
        opt.step(poisoned)
    assert same(before_weights, list(model.parameters()))  # the forward may move BatchNorm stats
    after = opt.state_dict()
    buffer.seek(0)
    before = torch.load(buffer, weights_only=True)
    for key in ("rule", "state", "base_optimizer"):
        assert equal_state(before[key], after[key]), key
    assert after["counters"]["skipped_steps"] == before["counters"]["skipped_steps"] + 1


def test_one_host_read_per_window_and_none_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny_model()
    opt = make(model, warmup_steps=3, window=10)
    per_step = host_reads_per_step(monkeypatch, opt, CountingClosure(model, opt), batches(40))
    # Boundaries every K = 10 steps, counted from the end of the 3-step warm-up (also during it).
    boundaries = {i for i in range(40) if (i + 1 - 3) % 10 == 0}
    assert per_step == [int(i in boundaries) for i in range(40)]


def test_stats_report_quota_ratio_and_fraction() -> None:
    model = tiny_model()
    opt = make(model)
    run(opt, CountingClosure(model, opt), batches(30))
    stats = opt.stats
    assert {"steps", "sam_steps", "grad_evals", "sam_fraction", "quota", "psf_ratio"} <= set(stats)
    assert 0 < stats["sam_fraction"] < 1 and stats["psf_ratio"] > 0
    assert stats["grad_evals"] == stats["steps"] + stats["sam_steps"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(rho=-1.0), "rho must lie in"),
        (dict(window=0), "window must lie in"),
        (dict(window=2.5), "window must be an integer"),
        (dict(reuse_decay=0.0), r"reuse_decay must lie in \(0, 1\]"),
        (dict(reuse_decay=1.5), r"reuse_decay must lie in \(0, 1\]"),
        (dict(max_sam_fraction=0.0), r"max_sam_fraction must lie in \(0, 1\]"),
        (dict(max_sam_fraction=1.2), r"max_sam_fraction must lie in \(0, 1\]"),
        (dict(warmup_steps=-1), "warmup_steps must lie in"),
        (dict(reuse_steps=-1), "reuse_steps must lie in"),
        (dict(window=12, var_blocks=5), "window must be a multiple of var_blocks"),
        (dict(quota_gain=0.1), "quota_gain must be a pair"),
        (dict(stat_params=0), "stat_params must be a positive count"),
        (dict(stat_params=[torch.nn.Parameter(torch.zeros(1))]), "stat_params must be a count"),
    ],
)
def test_invalid_arguments_name_the_argument(kwargs: dict, message: str) -> None:
    options = dict(window=10)
    options.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=message):
        ARSAMPaper(tiny_model().parameters(), torch.optim.SGD, lr=0.1, **options)


def test_missing_closure_and_bad_base_optimizer() -> None:
    model = tiny_model()
    with pytest.raises(TypeError, match="needs a closure"):
        ARSAM(model.parameters(), torch.optim.SGD, lr=0.1).step()
    with pytest.raises(TypeError, match=r"torch\.optim\.Optimizer subclass"):
        ARSAM(model.parameters(), lambda params: None, lr=0.1)


def test_resume_with_another_window_is_refused() -> None:
    model = tiny_model()
    opt = make(model, window=10)
    run(opt, CountingClosure(model, opt), batches(2))
    other = make(tiny_model(), window=20)
    with pytest.raises(ValueError, match="window"):
        other.load_state_dict(opt.state_dict())


def test_default_statistics_subset_skips_unperturbed_groups() -> None:
    model = tiny_model()
    last = list(model[5].parameters())
    others = [p for p in model.parameters() if all(p is not q for q in last)]
    opt = ARSAM([{"params": others}, {"params": last, "perturb": False}], torch.optim.SGD, lr=0.1)
    assert [id(p) for p in opt.stat_params] == [id(p) for p in others[-10:]]
