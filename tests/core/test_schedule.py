"""The schedule's pure parts on hand-made statistics."""

from __future__ import annotations

import torch

from arsam.core.arsam_schedule import (
    PaperSchedule,
    PSFHistory,
    adapt_quota,
    blocked_variance,
    mean_relative_change,
    place_sam_steps,
)


def test_blocked_variance_by_hand() -> None:
    values = torch.tensor([9.0, 1.0, 3.0, 7.0, 2.0, 8.0])  # sorted: 1 2 3 7 8 9
    # blocks of 3 -> [1 2 3], [7 8 9]: population variances 2/3 each
    assert torch.allclose(blocked_variance(values, 2), torch.tensor(2.0 / 3.0))
    # blocks of 2 -> [1 2], [3 7], [8 9]: 0.25, 4, 0.25
    assert torch.allclose(blocked_variance(values, 3), torch.tensor(4.5 / 3.0))
    batch = torch.stack([values, values * 2])
    assert torch.allclose(blocked_variance(batch, 2), torch.tensor([2.0 / 3.0, 8.0 / 3.0]))


def test_mean_relative_change_clips_and_ignores_zero_bases() -> None:
    assert torch.allclose(mean_relative_change(torch.tensor([1.0, 2.0, 3.0])), torch.tensor(0.75))
    assert mean_relative_change(torch.tensor([1.0, 10.0])) == 1.0
    assert mean_relative_change(torch.tensor([10.0, 0.0, 0.0])) == -0.5
    assert mean_relative_change(torch.tensor([0.0, 0.0])) == 0.0


def test_quota_update_and_its_bounds() -> None:
    quota = torch.tensor(4.0)
    update = adapt_quota(quota, torch.tensor(0.5), torch.tensor(-0.2), (0.13, 0.13), 40)
    assert torch.allclose(update, torch.tensor(4.0 * (1 + 0.13 * 0.5 - 0.13 * 0.2)))
    high = adapt_quota(torch.tensor(39.0), torch.tensor(1.0), torch.tensor(1.0), (0.13, 0.13), 40)
    assert high == 40.0
    low = adapt_quota(torch.tensor(1.0), torch.tensor(-1.0), torch.tensor(-1.0), (0.13, 0.13), 40)
    assert low == 1.0


def test_history_trends_on_hand_made_measurements() -> None:
    history = PSFHistory(window=4, var_blocks=2)
    norms = [1.0, 2.0, 4.0, 8.0, 8.0, 16.0, 32.0]
    grads = [1.0, 1.0, 2.0, 2.0, 4.0, 4.0, 4.0]
    for n, g in zip(norms, grads, strict=False):
        history.record(torch.tensor(n), torch.tensor(g))
    m_r, m_v = history.trends()
    ratios = torch.tensor(norms[-4:]) / torch.tensor(grads[-4:])  # 4, 2, 4, 8
    assert torch.allclose(m_r, mean_relative_change(ratios))
    windows = torch.tensor(norms).unfold(0, 4, 1)  # 4 windows of 4 for the last 4 SAM steps
    expected_v = blocked_variance(windows, 2)
    assert torch.allclose(m_v, mean_relative_change(expected_v))
    assert torch.equal(history.latest(history.psf_norms, 3), torch.tensor(norms[-3:]))


def test_history_with_few_measurements_has_no_trend() -> None:
    history = PSFHistory(window=4, var_blocks=2)
    history.record(torch.tensor(1.0), torch.tensor(1.0))
    m_r, m_v = history.trends()
    assert m_r == 0 and m_v == 0


def test_place_sam_steps_fills_the_quota_exactly() -> None:
    assert place_sam_steps(3, 0.0, [0.5] * 8) == [False] * 5 + [True] * 3
    assert place_sam_steps(2, 1.0, [0.5] * 8) == [True, True] + [False] * 6
    generator = torch.Generator().manual_seed(3)
    for count in range(0, 9):
        plan = place_sam_steps(count, count / 8, torch.rand(8, generator=generator).tolist())
        assert sum(plan) == count


def test_reuse_coefficients_follow_the_decay_then_stop() -> None:
    schedule = PaperSchedule(window=10, reuse_steps=3, reuse_decay=0.5)
    assert schedule.mixing_coefficient() == 0.0  # no PSF yet
    schedule.commit(sam_step=True, completed=1)
    coefficients = []
    for step in range(1, 6):
        coefficients.append(schedule.mixing_coefficient())
        schedule.commit(sam_step=False, completed=step + 1)
    assert coefficients == [0.5, 0.25, 0.125, 0.0, 0.0]


def test_same_seed_same_placements() -> None:
    a, b = PaperSchedule(window=10, seed=4), PaperSchedule(window=10, seed=4)
    c = PaperSchedule(window=10, seed=5)
    a.quota = b.quota = c.quota = 5.0
    for s in (a, b, c):
        s._place(s._draw_plan())
    assert a.plan == b.plan and sum(a.plan) == 5
    assert a.plan != c.plan or a.generator.get_state().ne(c.generator.get_state()).any()
