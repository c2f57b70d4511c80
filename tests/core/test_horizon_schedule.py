"""ARSAM's horizon-aware schedule: budget, placement, reuse, and how ARSAM chooses a schedule."""

from __future__ import annotations

import itertools

import pytest
import torch

from arsam.core import ARSAM, ARSAMPaper, HorizonSchedule, PaperSchedule
from arsam.core.arsam import capped_coefficient
from arsam.core.gradients import remove_component_along
from arsam.core.horizon_schedule import DEFAULTS, allocation_weight, spread_evenly, window_for

from .helpers import CountingClosure, batches, run, tiny_model


def decisions(schedule: HorizonSchedule, steps: int) -> list[bool]:
    """Drive ``schedule`` alone for ``steps`` steps (no statistics recorded)."""
    flags = []
    for step in range(steps):
        sam = schedule.is_sam_step(step)
        flags.append(sam)
        schedule.commit(sam, step + 1)
    return flags


@pytest.mark.parametrize("total_steps", [40, 1000, 10_000, 78_000])
def test_the_budget_is_spent_exactly_over_the_run(total_steps: int) -> None:
    flags = decisions(HorizonSchedule(total_steps=total_steps), total_steps)
    assert sum(flags) == round(DEFAULTS["budget"] * total_steps)


def test_sam_steps_are_spread_evenly() -> None:
    flags = decisions(HorizonSchedule(total_steps=1000, budget=0.25), 1000)
    positions = [i for i, f in enumerate(flags) if f]
    assert {b - a for a, b in itertools.pairwise(positions)} == {4}


def test_warmup_and_late_weight_shape_the_allocation() -> None:
    flags = decisions(HorizonSchedule(total_steps=1000, budget=0.25, warmup_fraction=0.05), 1000)
    assert all(flags[:50]) and sum(flags) == 250
    late = decisions(HorizonSchedule(total_steps=1000, budget=0.25, late_weight=1.0), 1000)
    assert sum(late) == 250 and sum(late[:500]) < sum(late[500:]) / 2
    assert allocation_weight(0.0, 0.5) == 0.5 and allocation_weight(1.0, 0.5) == 1.5


def test_psf_is_reused_with_a_weight_decaying_until_the_next_sam_step() -> None:
    schedule = HorizonSchedule(total_steps=100)
    expected, since = [], None  # the k-th step after a SAM step mixes 0.7^k PSF (0 before any)
    coefficients = []
    for step in range(40):
        sam = schedule.is_sam_step(step)
        if sam:
            since = 0
        else:
            since = None if since is None else since + 1
            coefficients.append(schedule.mixing_coefficient())
            expected.append(0.0 if since is None else 0.7**since)
        schedule.commit(sam, step + 1)
    assert any(expected) and coefficients == pytest.approx(expected)
    constant = HorizonSchedule(total_steps=100, reuse_decay=1.0)  # the earlier default
    for step in range(40):
        sam = constant.is_sam_step(step)
        constant.commit(sam, step + 1)
    assert constant.mixing_coefficient() == 1.0


def test_capped_coefficient_bounds_the_reused_term_by_the_gradient() -> None:
    grads = [torch.tensor([3.0, 0.0]), torch.tensor([4.0])]  # ||g|| = 5
    psf = [torch.tensor([0.0, 20.0]), torch.tensor([0.0])]  # ||PSF|| = 20
    assert float(capped_coefficient(1.0, grads, psf, cap=1.0)) == pytest.approx(0.25)
    assert float(capped_coefficient(0.5, grads, psf, cap=2.0)) == pytest.approx(0.5)
    small = [torch.tensor([0.0, 1.0]), torch.tensor([0.0])]
    assert float(capped_coefficient(1.0, grads, small, cap=1.0)) == 1.0  # within the bound
    zero = [torch.zeros(2), torch.zeros(1)]
    assert float(capped_coefficient(1.0, grads, zero, cap=1.0)) == 1.0


@pytest.mark.parametrize(("cap", "expected"), [(1.0, [0.0, 5.0]), (None, [0.0, 20.0])])
def test_a_reuse_step_adds_psf_at_most_cap_times_the_gradients_norm(cap, expected) -> None:
    param = torch.nn.Parameter(torch.zeros(2))
    opt = ARSAM(
        [param],
        torch.optim.SGD,
        lr=0.0,
        total_steps=100,
        horizon_options=dict(reuse_cap=cap, reuse_decay=1.0),  # c = 1 on this step
    )
    opt.state[param]["psf"] = torch.tensor([0.0, 20.0])
    opt.schedule.coefficient = 1.0
    param.grad = torch.tensor([3.0, 4.0])
    opt.rule.on_one_pass_gradient(opt.param_groups)
    assert param.grad.tolist() == pytest.approx([3.0 + expected[0], 4.0 + expected[1]])
    assert opt.state_dict()["rule"]["settings"]["reuse_cap"] == cap


def test_window_follows_the_horizon() -> None:
    assert [window_for(t) for t in (40, 1000, 10_000, 78_000)] == [8, 8, 50, 100]
    assert spread_evenly(2, 8) == [False, False, True, False, False, False, True, False]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(budget=1.5), "budget must lie in"),
        (dict(late_weight=-0.1), "late_weight must lie in"),
        (dict(reuse_decay=2.0), "reuse_decay must lie in"),
        (dict(reuse_cap=-1.0), "reuse_cap must lie in"),
        (dict(reuse_component="parallel"), "reuse_component must be 'fading'"),
        (dict(windw=10), "unknown horizon schedule option"),
    ],
)
def test_invalid_options_name_the_option(options: dict, message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        HorizonSchedule(total_steps=100, **options)


def test_each_class_runs_one_schedule() -> None:
    params = list(tiny_model().parameters())
    assert isinstance(ARSAMPaper(params, torch.optim.SGD, lr=0.1).schedule, PaperSchedule)
    assert isinstance(ARSAM(params, torch.optim.SGD, lr=0.1).schedule, HorizonSchedule)
    horizon = ARSAM(params, torch.optim.SGD, lr=0.1, total_steps=500)
    assert isinstance(horizon.schedule, HorizonSchedule)
    assert horizon.schedule.total_steps == 500
    pinned = ARSAMPaper(params, torch.optim.SGD, lr=0.1, window=10)
    assert isinstance(pinned.schedule, PaperSchedule) and pinned.schedule.window == 10
    # the old spellings that chose the paper's schedule inside ARSAM name ARSAMPaper
    with pytest.raises(TypeError, match="ARSAMPaper") as refused:
        ARSAM(params, torch.optim.SGD, lr=0.1, total_steps=500, window=10)
    assert "window" in str(refused.value)
    for schedule in ("paper", "horizon", "fast"):
        with pytest.raises(TypeError, match="ARSAMPaper"):
            ARSAM(params, torch.optim.SGD, lr=0.1, total_steps=500, schedule=schedule)
    with pytest.raises(TypeError, match="takes no total_steps"):
        ARSAMPaper(params, torch.optim.SGD, lr=0.1, total_steps=500)


def test_front_ends_give_the_run_length_or_a_warmup_before_the_first_step() -> None:
    model = tiny_model()
    opt = ARSAM(model.parameters(), torch.optim.SGD, lr=0.1)
    schedule = opt.schedule
    with pytest.raises(ValueError, match="set_total_steps"):
        run(opt, CountingClosure(model, opt), batches(1))
    opt.set_total_steps(30)
    assert opt.schedule is schedule and schedule.total_steps == 30  # completed, not swapped
    warm = ARSAMPaper(tiny_model().parameters(), torch.optim.SGD, lr=0.1)
    warm.set_warmup_steps(5)
    warm.set_total_steps(30)  # the paper's schedule plans no run length
    assert isinstance(warm.schedule, PaperSchedule) and warm.schedule.warmup_steps == 5
    run(opt, CountingClosure(model, opt), batches(3))
    with pytest.raises(ValueError, match="cannot change after training started"):
        opt.set_total_steps(60)


def test_a_resume_with_another_run_length_is_refused() -> None:
    model = tiny_model()
    opt = ARSAM(model.parameters(), torch.optim.SGD, lr=0.1, total_steps=30)
    run(opt, CountingClosure(model, opt), batches(3))
    longer = ARSAM(tiny_model().parameters(), torch.optim.SGD, lr=0.1, total_steps=60)
    with pytest.raises(ValueError, match="total_steps: checkpoint 30, this optimizer 60"):
        longer.load_state_dict(opt.state_dict())


def test_horizon_options_reach_the_schedule_and_its_settings() -> None:
    opt = ARSAM(
        tiny_model().parameters(),
        torch.optim.SGD,
        lr=0.1,
        total_steps=100,
        horizon_options=dict(budget=0.5, reuse_decay=0.7),
    )
    assert opt.schedule.budget_steps == 50
    assert opt.state_dict()["rule"]["settings"]["reuse_decay"] == 0.7


def test_remove_component_along_keeps_the_part_orthogonal_to_g() -> None:
    x = [torch.tensor([1.0, 2.0]), torch.tensor([0.0])]
    remove_component_along(x, [torch.tensor([3.0, 0.0]), torch.tensor([4.0])])
    # x . g / ||g||^2 = 3 / 25: x - 0.12 g, across both tensors at once
    assert torch.cat(x).tolist() == pytest.approx([1.0 - 0.36, 2.0, -0.48], abs=1e-6)
    unchanged = [torch.tensor([1.0, 2.0])]
    remove_component_along(unchanged, [torch.zeros(2)])
    assert unchanged[0].tolist() == [1.0, 2.0]


def test_remove_component_along_removes_the_share_asked_for() -> None:
    x = [torch.tensor([1.0, 2.0])]
    remove_component_along(x, [torch.tensor([3.0, 4.0])], share=0.25)
    # the part along g is 0.44 g = (1.32, 1.76); a quarter of it is (0.33, 0.44)
    assert x[0].tolist() == pytest.approx([0.67, 1.56], abs=1e-6)


@pytest.mark.parametrize(
    ("component", "expected"),
    [
        ("fading", [0.0, 0.25, 0.5, 1.0]),
        ("orthogonal", [1.0, 1.0, 1.0, 1.0]),
        ("full", [0.0, 0.0, 0.0, 0.0]),
    ],
)
def test_the_share_of_psf_along_g_dropped_follows_progress_when_fading(
    component: str, expected: list[float]
) -> None:
    schedule = HorizonSchedule(total_steps=100, reuse_component=component)
    shares = []
    for step in (0, 25, 50, 100):
        shares.append(schedule.along_share_removed(step))
    assert shares == expected


@pytest.mark.parametrize(
    ("component", "step", "loss_scale", "expected"),
    [
        ("fading", 0, 1.0, [1.0, 2.0]),  # the first step: PSF whole
        ("fading", 25, 1.0, [0.67, 1.56]),  # a quarter through: a quarter of 0.44 g dropped
        ("fading", 25, 1024.0, [0.67, 1.56]),  # a loss-scaled first pass: only g's direction
        ("orthogonal", 0, 1.0, [-0.32, 0.24]),
        ("orthogonal", 25, 1024.0, [-0.32, 0.24]),
        ("full", 25, 1.0, [1.0, 2.0]),
    ],
)
def test_a_sam_step_keeps_the_part_of_psf_its_schedule_reuses(
    component: str, step: int, loss_scale: float, expected: list[float]
) -> None:
    param = torch.nn.Parameter(torch.zeros(2))
    opt = ARSAM(
        [param],
        torch.optim.SGD,
        lr=0.0,
        total_steps=100,
        horizon_options=dict(reuse_component=component),
    )
    opt.counters["steps"] = step  # the one step count, which the rule hands to the schedule
    g, g_sam = torch.tensor([3.0, 4.0]), torch.tensor([4.0, 6.0])  # PSF = g_sam - g = (1, 2)
    param.grad = g_sam.clone()
    groups = [(opt.param_groups[0], [param])]
    opt.rule.on_sam_gradient(groups, [[g * loss_scale]], 1.0 / loss_scale, checked=False)
    # (1, 2) . (3, 4) / 25 = 0.44: the part along g is 0.44 g = (1.32, 1.76)
    assert opt.state[param]["psf"].tolist() == pytest.approx(expected, abs=1e-5)
    assert param.grad.tolist() == [4.0, 6.0]  # the SAM step itself still takes g_sam
    assert opt.schedule.settings()["reuse_component"] == component


def test_a_checkpoint_from_before_reuse_component_resumes_as_full_reuse() -> None:
    model = tiny_model()
    opt = ARSAM(model.parameters(), torch.optim.SGD, lr=0.1, total_steps=30)
    run(opt, CountingClosure(model, opt), batches(3))
    state = opt.state_dict()
    del state["rule"]["settings"]["reuse_component"]
    default = ARSAM(tiny_model().parameters(), torch.optim.SGD, lr=0.1, total_steps=30)
    with pytest.raises(ValueError, match="reuse_component: checkpoint 'full', this optimizer"):
        default.load_state_dict(state)
    full = ARSAM(
        tiny_model().parameters(),
        torch.optim.SGD,
        lr=0.1,
        total_steps=30,
        horizon_options=dict(reuse_component="full"),
    )
    full.load_state_dict(state)
    assert full.counters["steps"] == 3


def test_a_checkpoint_with_the_previous_bound_resumes_with_the_options_the_error_names() -> None:
    def build(model: torch.nn.Module, **options: float) -> ARSAM:
        return ARSAM(
            model.parameters(), torch.optim.SGD, lr=0.1, total_steps=30, horizon_options=options
        )

    model = tiny_model()
    opt = build(model, reuse_cap=1.0)  # the bound before 0.7 became the default
    run(opt, CountingClosure(model, opt), batches(3))
    state = opt.state_dict()
    with pytest.raises(ValueError) as refused:
        build(tiny_model()).load_state_dict(state)
    message = str(refused.value)
    assert "reuse_cap: checkpoint 1.0, this optimizer 0.7" in message
    assert "horizon_options=dict(reuse_cap=1.0)" in message
    resumed = build(tiny_model(), reuse_cap=1.0)
    resumed.load_state_dict(state)
    assert resumed.counters["steps"] == 3
    longer = ARSAM(tiny_model().parameters(), torch.optim.SGD, lr=0.1, total_steps=60)
    with pytest.raises(ValueError, match=r"ARSAM\(\.\.\., total_steps=30, horizon_options="):
        longer.load_state_dict(state)


def as_written_before_the_split(state: dict) -> dict:
    """An ARSAMPaper state as ARSAM(schedule='paper') wrote it before ARSAMPaper existed."""
    return {**state, "kind": "ARSAM", "rule": {**state["rule"], "name": "ARSAM"}}


def test_a_checkpoint_of_the_other_schedule_is_refused_with_the_schedule_to_use() -> None:
    paper = ARSAMPaper(tiny_model().parameters(), torch.optim.SGD, lr=0.1)
    old_paper = as_written_before_the_split(paper.state_dict())
    assert old_paper["rule"]["settings"]["schedule"] == "paper"
    horizon = ARSAM(tiny_model().parameters(), torch.optim.SGD, lr=0.1, total_steps=30)
    with pytest.raises(ValueError, match="ran the paper's schedule") as refused:
        ARSAM(tiny_model().parameters(), torch.optim.SGD, lr=0.1, total_steps=30).load_state_dict(
            old_paper
        )
    assert "ARSAMPaper(...)" in str(refused.value)
    assert "horizon_options" not in str(refused.value)
    # the paper's state written by the ARSAM of earlier versions loads into ARSAMPaper
    ARSAMPaper(tiny_model().parameters(), torch.optim.SGD, lr=0.1).load_state_dict(old_paper)
    with pytest.raises(ValueError) as refused:
        ARSAMPaper(tiny_model().parameters(), torch.optim.SGD, lr=0.1).load_state_dict(
            horizon.state_dict()
        )
    assert "ARSAM" in str(refused.value)


def test_a_checkpoint_with_orthogonal_reuse_resumes_only_with_that_setting() -> None:
    def build(model: torch.nn.Module, **options: str) -> ARSAM:
        return ARSAM(
            model.parameters(), torch.optim.SGD, lr=0.1, total_steps=30, horizon_options=options
        )

    model = tiny_model()
    opt = build(model, reuse_component="orthogonal")
    run(opt, CountingClosure(model, opt), batches(3))
    state = opt.state_dict()
    with pytest.raises(ValueError, match="reuse_component: checkpoint 'orthogonal'"):
        build(tiny_model()).load_state_dict(state)
    resumed = build(tiny_model(), reuse_component="orthogonal")
    resumed.load_state_dict(state)
    assert resumed.counters["steps"] == 3
