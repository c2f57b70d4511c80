"""The contract every registered two-pass method keeps; a newly registered method runs it too."""

from __future__ import annotations

import io
from typing import Any

import pytest
import torch

from arsam.core import TWO_PASS_METHODS, TwoPassOptimizer
from arsam.core.registry import register_method
from arsam.core.rule import StepRule

from .helpers import (
    CountingClosure,
    batches,
    equal_state,
    host_reads_per_step,
    run,
    same,
    tiny_model,
    weights,
)

STEPS = 40
# Methods whose every step is one pass at weights placed before it (no second pass to test).
ONE_PASS_METHODS = {"MomentumSAM"}


def methods() -> list[str]:
    """Every registered method, including any registered after import."""
    return sorted(TWO_PASS_METHODS)


def bad_passes() -> list[tuple[str, int]]:
    """(method, pass made non-finite): pass 2 only for the methods that take one."""
    return [(n, p) for n in methods() for p in (1, 2) if p == 1 or n not in ONE_PASS_METHODS]


def build(name: str, model: torch.nn.Module, **options: Any) -> TwoPassOptimizer:
    """The method ``name`` with its contract options, around SGD with momentum."""
    spec = TWO_PASS_METHODS[name]
    arguments = {**spec.contract_options, **options}
    return spec.build(
        model.parameters(),
        torch.optim.SGD,
        total_steps=STEPS,
        seed=0,
        lr=0.05,
        momentum=0.9,
        **arguments,
    )


def roundtrip(state: dict) -> dict:
    """``state`` through torch.save and a weights-only torch.load."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("name", methods())
def test_closure_calls_equal_grad_evals(name: str) -> None:
    model = tiny_model()
    opt = build(name, model)
    closure = CountingClosure(model, opt)
    run(opt, closure, batches(STEPS))
    stats = opt.stats
    assert closure.calls == stats["grad_evals"] == stats["steps"] + stats["sam_steps"]
    assert stats["steps"] == STEPS and (stats["sam_steps"] >= 1 or name in ONE_PASS_METHODS)


@pytest.mark.parametrize("name", methods())
def test_two_call_api_is_the_closure_step(name: str) -> None:
    data = batches(STEPS)
    model_a, model_b = tiny_model(), tiny_model()
    opt_a, opt_b = build(name, model_a), build(name, model_b)
    opt_a.freeze_statistics_of(model_a)
    opt_b.freeze_statistics_of(model_b)
    run(opt_a, CountingClosure(model_a, opt_a), data)
    loss_fn = torch.nn.functional.cross_entropy
    for x, y in data:
        opt_b.before_forward()
        opt_b.zero_grad()
        loss_fn(model_b(x), y).backward()
        if opt_b.first_step():
            loss_fn(model_b(x), y).backward()
            opt_b.second_step()
    assert same(weights(model_a), weights(model_b))
    assert equal_state(opt_a.state_dict(), opt_b.state_dict())


@pytest.mark.parametrize("name", methods())
def test_resume_mid_schedule_is_bitwise(name: str) -> None:
    data = batches(STEPS)
    model = tiny_model()
    opt = build(name, model)
    closure = CountingClosure(model, opt)
    run(opt, closure, data[:17])
    saved_model = roundtrip(model.state_dict())
    saved_opt = roundtrip(opt.state_dict())
    run(opt, closure, data[17:])

    resumed_model = tiny_model(seed=5)
    resumed_model.load_state_dict(saved_model)
    resumed = build(name, resumed_model)
    resumed.load_state_dict(saved_opt)
    run(resumed, CountingClosure(resumed_model, resumed), data[17:])
    assert same(weights(model), weights(resumed_model))
    assert equal_state(opt.state_dict(), resumed.state_dict())


def with_rule_step(state: dict, step: int) -> dict:
    """``state`` as earlier versions wrote it: the rule's state holding its own step count."""
    rule = state["rule"]
    return {**state, "rule": {**rule, "state": {**rule["state"], "step": step}}}


@pytest.mark.parametrize("name", methods())
def test_a_state_with_the_rules_own_step_count_resumes_when_it_agrees(name: str) -> None:
    data = batches(STEPS)
    model = tiny_model()
    opt = build(name, model)
    closure = CountingClosure(model, opt)
    run(opt, closure, data[:17])
    saved_model = roundtrip(model.state_dict())
    saved_opt = roundtrip(opt.state_dict())
    run(opt, closure, data[17:])

    with pytest.raises(ValueError, match="rule counted 16 completed steps, its optimizer 17"):
        build(name, tiny_model()).load_state_dict(with_rule_step(saved_opt, 16))
    resumed_model = tiny_model(seed=5)
    resumed_model.load_state_dict(saved_model)
    resumed = build(name, resumed_model)
    resumed.load_state_dict(with_rule_step(saved_opt, 17))
    run(resumed, CountingClosure(resumed_model, resumed), data[17:])
    assert same(weights(model), weights(resumed_model))
    assert equal_state(opt.state_dict(), resumed.state_dict())


@pytest.mark.parametrize("name", methods())
def test_the_rule_reads_the_optimizers_step_count_and_saves_none(name: str) -> None:
    model = tiny_model()
    opt = build(name, model)
    run(opt, CountingClosure(model, opt), batches(5))
    assert opt.rule.steps == opt.counters["steps"] == 5
    assert "step" not in opt.state_dict()["rule"]["state"]
    assert not hasattr(opt.rule, "step") and not hasattr(getattr(opt, "schedule", None), "step")


@pytest.mark.parametrize("use_scaler", [False, True])
@pytest.mark.parametrize(("name", "bad_pass"), bad_passes())
def test_nonfinite_step_leaves_everything_untouched(
    name: str, bad_pass: int, use_scaler: bool
) -> None:
    model = tiny_model()
    opt = build(name, model, skip_nonfinite=not use_scaler)
    opt.freeze_statistics_of(model)
    closure = CountingClosure(model, opt)
    if use_scaler:
        closure.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8)
    data = batches(STEPS)
    for step, batch in enumerate(data):
        before_weights = weights(model)  # parameters and BatchNorm's statistics
        before = roundtrip(opt.state_dict())
        first_call = closure.calls

        def poisoned(first_call: int = first_call) -> torch.Tensor:
            closure.loss_factor = float("nan") if closure.calls - first_call == bad_pass - 1 else 1
            return CountingClosure.__call__(closure)

        closure.batch = batch
        if use_scaler:
            opt.step(poisoned, grad_scaler=closure.scaler)
            closure.scaler.update()
        else:
            opt.step(poisoned)
        closure.loss_factor = 1.0
        if closure.calls - first_call < bad_pass:
            continue  # a one-pass step: pass 2 never ran; try the next step
        assert same(before_weights, weights(model)), f"step {step}"
        assert_skipped_once(opt, before, bad_pass)
        return
    pytest.fail(f"{name} ran no second pass in {STEPS} steps")


def assert_skipped_once(opt: TwoPassOptimizer, before: dict, bad_pass: int) -> None:
    """The optimizer's state is ``before``, but for one more skipped step of ``bad_pass`` passes."""
    after = opt.state_dict()
    for key in ("state", "base_optimizer", "rule", "param_groups"):
        assert equal_state(before[key], after[key]), key
    counters = dict(after["counters"])
    assert counters.pop("skipped_steps") == before["counters"]["skipped_steps"] + 1
    assert counters.pop("grad_evals") == before["counters"]["grad_evals"] + bad_pass
    assert all(counters[k] == before["counters"][k] for k in counters)


@pytest.mark.parametrize("use_scaler", [False, True])
@pytest.mark.parametrize(("name", "bad_pass"), bad_passes())
def test_nonfinite_two_call_step_leaves_statistics_untouched(
    name: str, bad_pass: int, use_scaler: bool
) -> None:
    """The two-call API runs pass 1 before the optimizer is called; BatchNorm stays as it was."""
    model = tiny_model()
    opt = build(name, model, skip_nonfinite=not use_scaler)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8) if use_scaler else None
    if use_scaler:
        opt.expect_grad_scaler()
    opt.freeze_statistics_of(model)
    run(opt, CountingClosure(model, opt), batches(2, seed=7))  # statistics away from their init
    for step, (x, y) in enumerate(batches(STEPS)):
        before_weights = weights(model)
        before = roundtrip(opt.state_dict())

        def backward(factor: float, x: torch.Tensor = x, y: torch.Tensor = y) -> None:
            loss = torch.nn.functional.cross_entropy(model(x), y) * factor
            (scaler.scale(loss) if scaler else loss).backward()

        opt.before_forward()
        opt.zero_grad()
        backward(float("nan") if bad_pass == 1 else 1.0)
        second_pass = opt.first_step(grad_scaler=scaler)
        if second_pass:
            backward(float("nan") if bad_pass == 2 else 1.0)
            opt.second_step()
        if scaler is not None:
            scaler.update()
        if bad_pass == 2 and not second_pass:
            continue  # a one-pass step: pass 2 never ran; try the next step
        assert same(before_weights, weights(model)), f"step {step}"
        assert_skipped_once(opt, before, bad_pass)
        tracked = int(model[1].num_batches_tracked)
        opt.before_forward()
        opt.zero_grad()
        backward(1.0)  # the next, finite step keeps the statistics of its first pass
        if opt.first_step(grad_scaler=scaler):
            backward(1.0)
            opt.second_step()
        assert int(model[1].num_batches_tracked) == tracked + 1
        return
    pytest.fail(f"{name} ran no second pass in {STEPS} steps")


@pytest.mark.parametrize("name", methods())
def test_host_reads_only_at_declared_boundaries(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny_model()
    opt = build(name, model)
    closure = CountingClosure(model, opt)
    declared: list[int] = []
    for batch in batches(STEPS):
        declared.append(opt.host_reads_ahead())
        counted = host_reads_per_step(monkeypatch, opt, closure, [batch])
        assert counted == declared[-1:], f"step {len(declared) - 1}: {counted} != {declared[-1]}"
    if name.startswith("ARSAM"):
        assert 1 <= sum(declared) <= STEPS // 8  # once per window, nowhere else


@pytest.mark.parametrize("name", methods())
def test_statistics_move_once_per_step(name: str) -> None:
    model = tiny_model()
    batchnorm = model[1]
    opt = build(name, model)
    opt.freeze_statistics_of(model)
    closure = CountingClosure(model, opt)
    run(opt, closure, batches(STEPS))
    assert opt.stats["sam_steps"] >= 1 or name in ONE_PASS_METHODS
    assert int(batchnorm.num_batches_tracked) == STEPS


@pytest.mark.parametrize("name", [n for n in methods() if build(n, tiny_model()).rule.settings()])
def test_changed_settings_are_refused_on_resume(name: str) -> None:
    model = tiny_model()
    opt = build(name, model)
    run(opt, CountingClosure(model, opt), batches(5))
    state = roundtrip(opt.state_dict())
    setting, value = next(iter(state["rule"]["settings"].items()))
    state["rule"]["settings"][setting] = "something else" if isinstance(value, str) else -7
    fresh = build(name, tiny_model())
    with pytest.raises(ValueError, match=setting):
        fresh.load_state_dict(state)


@pytest.mark.parametrize("name", methods())
def test_earlier_and_foreign_state_dicts_are_refused(name: str) -> None:
    model = tiny_model()
    opt = build(name, model)
    state = opt.state_dict()
    earlier = {k: v for k, v in state.items() if k not in ("format", "rule")}
    with pytest.raises(ValueError, match="earlier version"):
        build(name, tiny_model()).load_state_dict(earlier)
    with pytest.raises(ValueError, match="written by"):
        build(name, tiny_model()).load_state_dict(dict(state, kind="Adam"))
    with pytest.raises(TypeError, match="closure"):
        opt.step()


def test_second_step_must_follow_a_true_first_step() -> None:
    model = tiny_model()
    opt = build("SAM", model)
    with pytest.raises(RuntimeError, match="first_step"):
        opt.second_step()
    x, y = batches(1)[0]
    torch.nn.functional.cross_entropy(model(x), y).backward()
    assert opt.first_step()
    with pytest.raises(RuntimeError, match="second_step"):
        opt.first_step()


class _EveryThirdStep(StepRule):
    name = "EveryThird"

    def sam_step_ahead(self, step: int) -> bool:
        return step % 3 == 0


class _EveryThirdSAM(TwoPassOptimizer):
    def __init__(self, params: Any, base_optimizer: Any, rho: float = 0.05, **kwargs: Any):
        super().__init__(params, base_optimizer, _EveryThirdStep(), rho, **kwargs)


def test_a_registered_method_runs_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(TWO_PASS_METHODS, "EveryThird", TWO_PASS_METHODS["SAM"])
    register_method("EveryThird", _EveryThirdSAM)
    assert "EveryThird" in methods()
    test_closure_calls_equal_grad_evals("EveryThird")
    test_resume_mid_schedule_is_bitwise("EveryThird")
    test_nonfinite_step_leaves_everything_untouched("EveryThird", 2, False)
    test_statistics_move_once_per_step("EveryThird")
    model = tiny_model()
    opt = build("EveryThird", model)
    run(opt, CountingClosure(model, opt), batches(9))
    assert opt.stats["sam_steps"] == 3
