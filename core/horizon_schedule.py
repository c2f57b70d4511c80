"""ARSAM's horizon-aware schedule: given the run's length T, a budget of SAM steps spent well.

docs/method.md, "`ARSAM`: the horizon-aware schedule", specifies it; docs/ablations.md gives
the reasoning and the ablations.
With T known:

- budget: round(budget * T) SAM steps over the whole run, warm-up included, so the
  run costs 1 + budget forward-backward passes per step whatever T is;
- warm-up: the first round(warmup_fraction * T) steps are SAM steps;
- windows of K = window_for(T) steps; the plan spends the budget after the warm-up
  with density w(u) = 1 + late_weight (2 u - 1) over progress u (more SAM late in
  training when late_weight > 0); a window gets the plan's share, times
  exp(adapt_gain * s) clipped to [1/2, 2], plus what earlier windows fell behind,
  where s = log(mean r of the last window / mean r of the window before) is a
  drift-free trend of r = ||PSF||_S / ||g||_S (its mean is 0 for a stationary series);
- SAM steps spread evenly over the window (at the centres of q equal slots);
- reuse: c = 0.7^k on the k-th step after a SAM step, until the next one (``reuse_decay``=0.7,
  ``reuse_steps`` unbounded; with SAM on one step in ten, a constant c = 1 drives the SGD MLP
  off course at 50k steps: docs/benchmarks.md, "The budget: 0.10 against 0.25"), of
  PSF with its part along the SAM step's g fading out over training: PSF - u (PSF . g /
  ||g||^2) g at progress u = t / T (``reuse_component``='fading'; 'orthogonal' removes
  that part at every step, 'full' reuses PSF whole), the added term c PSF bounded to
  ``reuse_cap`` (0.7) times the current gradient's norm: a term measured on another
  minibatch turns the update away from the current gradient by at most asin(0.7), 44
  degrees (a bound of 1 allows 90).

The host decides every step from host counters alone (no random draws: every
rank takes the same decisions); the device is read once per window (the trend and
the latest ratio, in one read). The step count is the optimizer's, given to every
method that needs it (``step``: steps completed so far); the schedule keeps none.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from .arguments import check_number
from .gradients import safe_ratio
from .host_schedule import read_on_host

DEFAULTS = dict(
    budget=0.10,
    warmup_fraction=0.0,
    late_weight=0.0,
    adapt_gain=0.0,
    reuse_decay=0.7,
    reuse_cap=0.7,
    reuse_component="fading",
)
REUSE_COMPONENTS = ("fading", "orthogonal", "full")


def window_for(total_steps: int) -> int:
    """K for a run of ``total_steps``: about T / 200 windows' length, between 8 and 100 steps."""
    return min(100, max(8, round(total_steps / 200)))


def spread_evenly(count: int, window: int) -> list[bool]:
    """``count`` SAM positions in ``window`` steps: the centres of ``count`` equal slots."""
    positions = {min(window - 1, int((slot + 0.5) * window / count)) for slot in range(count)}
    return [i in positions for i in range(window)]


def allocation_weight(progress: float, late_weight: float) -> float:
    """w(u) = 1 + late_weight (2 u - 1): the density of SAM steps at progress u (mean 1)."""
    return 1.0 + late_weight * (2.0 * progress - 1.0)


def cumulative_share(progress: float, late_weight: float) -> float:
    """The integral of w from 0 to ``progress``: the share of the budget spent by then."""
    return (1.0 - late_weight) * progress + late_weight * progress * progress


class HorizonSchedule:
    """A budget of SAM steps for a run of ``total_steps``, placed by window, PSF reused between.

    ``total_steps`` may come later, through ``set_total_steps`` before the first step
    (the MMEngine train loop knows it only then); it completes this schedule.
    """

    name = "horizon"
    needs_total_steps = True

    def __init__(self, *, total_steps: int | None = None, **options: Any) -> None:
        unknown = sorted(set(options) - set(DEFAULTS))
        if unknown:
            raise TypeError(
                f"unknown horizon schedule option(s) {unknown}; known: {sorted(DEFAULTS)}"
            )
        settings = {**DEFAULTS, **options}
        check_number("budget", settings["budget"], low=0.0, high=1.0)
        check_number("warmup_fraction", settings["warmup_fraction"], low=0.0, high=1.0)
        check_number("late_weight", settings["late_weight"], low=0.0, high=1.0)
        check_number("adapt_gain", settings["adapt_gain"], low=0.0)
        check_number("reuse_decay", settings["reuse_decay"], low=0.0, high=1.0)
        if settings["reuse_cap"] is not None:  # None: the reused term is not bounded
            check_number("reuse_cap", settings["reuse_cap"], low=0.0)
        if settings["reuse_component"] not in REUSE_COMPONENTS:
            raise ValueError(
                f"reuse_component must be 'fading' (the part of PSF along the SAM step's "
                f"gradient fades out over training, the default), 'orthogonal' (reuse only the "
                f"part orthogonal to that gradient) or 'full' (reuse PSF whole), got "
                f"{settings['reuse_component']!r}"
            )
        self.total_steps = total_steps
        self.budget = float(settings["budget"])
        self.warmup_fraction = float(settings["warmup_fraction"])
        self.late_weight = float(settings["late_weight"])
        self.adapt_gain = float(settings["adapt_gain"])
        self.reuse_decay = float(settings["reuse_decay"])
        cap = settings["reuse_cap"]
        self.reuse_cap: float | None = None if cap is None else float(cap)
        self.reuse_component = str(settings["reuse_component"])
        self.total_steps: int | None = None
        self.window = 1  # window, warm-up and budget follow from total_steps
        self.warmup_steps = 0
        self.budget_steps = 0
        self.sam_steps = 0
        self.quota = 0.0
        self.plan: list[bool] = []
        self.coefficient = 0.0
        self.last_ratio = math.nan
        self.trend = 0.0
        self._ratio_sum: Tensor | None = None
        self._previous_mean: Tensor | None = None
        self._last_ratio: Tensor | None = None
        self._window_sam_steps = 0
        if total_steps is not None:
            self.set_total_steps(total_steps)

    def set_total_steps(self, total_steps: int) -> None:
        """T, and with it the window, the warm-up, the budget and the first window's plan.

        Only before the first step (the optimizer refuses a change after it).
        """
        check_number("total_steps", total_steps, low=1, integer=True)
        self.total_steps = total_steps
        self.window = window_for(total_steps)
        self.warmup_steps = min(round(self.warmup_fraction * total_steps), total_steps)
        self.budget_steps = max(round(self.budget * total_steps), self.warmup_steps)
        self.plan = []
        if self.warmup_steps == 0:
            self._plan_window(0)

    def planned_steps(self) -> int | None:
        """T, the run's length (None until given)."""
        return self.total_steps

    def settings(self) -> dict[str, Any]:
        """T and every choice derived from it."""
        return {
            "total_steps": self.total_steps,
            "budget": self.budget,
            "warmup_fraction": self.warmup_fraction,
            "late_weight": self.late_weight,
            "adapt_gain": self.adapt_gain,
            "reuse_decay": self.reuse_decay,
            "reuse_cap": self.reuse_cap,
            "reuse_component": self.reuse_component,
            "window": self.window,
            "warmup_steps": self.warmup_steps,
        }

    # ------------------------------------------------------------- decisions
    def is_sam_step(self, step: int) -> bool:
        """Whether step ``step`` (the coming one) measures PSF with a second pass; no changes."""
        if step < self.warmup_steps:
            return True
        if step >= self.total_steps:
            return False
        return self.plan[(step - self.warmup_steps) % self.window]

    def along_share_removed(self, step: int) -> float:
        """Share of PSF's part along g that the coming SAM step drops before PSF is reused.

        'fading': the progress t / T (whole PSF at the start, its orthogonal part at the
        end); 'orthogonal': 1; 'full': 0.
        """
        if self.reuse_component == "fading":
            return min(step / self.total_steps, 1.0)
        return 1.0 if self.reuse_component == "orthogonal" else 0.0

    def mixing_coefficient(self) -> float:
        """c for the coming step: reuse_decay^k after a SAM step (1: until the next one)."""
        return self.coefficient * self.reuse_decay

    def is_boundary(self, step: int) -> bool:
        """Whether the device is read when ``step`` steps have completed (once every K)."""
        return step > self.warmup_steps and (step - self.warmup_steps) % self.window == 0

    def host_reads_ahead(self, step: int) -> int:
        """1 when step ``step`` (the coming one) completes a window with something measured."""
        return int(self.is_boundary(step + 1) and self._last_ratio is not None)

    # --------------------------------------------------------------- updates
    def record(self, psf_norm: Tensor, grad_norm: Tensor) -> None:
        """Add one SAM step's r = ||PSF||_S / ||g||_S to the window's sum, on the device."""
        ratio = safe_ratio(psf_norm, grad_norm).float()
        self._ratio_sum = ratio if self._ratio_sum is None else self._ratio_sum + ratio
        self._last_ratio = ratio
        self._window_sam_steps += 1

    def commit(self, sam_step: bool, completed: int) -> None:
        """Advance past a step (``completed``: steps done, it included); at a boundary, replan."""
        self.coefficient = 1.0 if sam_step else self.mixing_coefficient()
        self.sam_steps += int(sam_step)
        if completed == self.warmup_steps:
            self._plan_window(completed)
        elif self.is_boundary(completed):
            self._read_trend()
            self._plan_window(completed)

    def _read_trend(self) -> None:
        """s = log(mean r now / mean r before) and the latest r, in ONE host read."""
        if self._last_ratio is None:
            return
        mean = None
        trend = torch.zeros_like(self._last_ratio)
        if self._ratio_sum is not None and self._window_sam_steps:
            mean = self._ratio_sum / self._window_sam_steps
            previous = mean if self._previous_mean is None else self._previous_mean
            trend = torch.log(mean.clamp_min(1e-12) / previous.clamp_min(1e-12)).nan_to_num(0.0)
        self.trend, self.last_ratio = read_on_host(torch.stack([trend, self._last_ratio]))
        if mean is not None:
            self._previous_mean = mean
        self._ratio_sum, self._window_sam_steps = None, 0

    def planned(self, step: int) -> float:
        """SAM steps the plan has spent after ``step`` steps (warm-up included)."""
        warmup, total = self.warmup_steps, self.total_steps
        if step <= warmup:
            return float(step)
        progress = min((step - warmup) / max(total - warmup, 1), 1.0)
        return warmup + (self.budget_steps - warmup) * cumulative_share(progress, self.late_weight)

    def _plan_window(self, start: int) -> None:
        """The SAM steps of the window from step ``start``: the plan's share, trend, catch-up."""
        end = min(start + self.window, self.total_steps)
        share = self.planned(end) - self.planned(start)
        factor = min(2.0, max(0.5, math.exp(self.adapt_gain * self.trend)))
        behind = self.planned(start) - self.sam_steps
        count = round(share * factor + behind)
        count = max(0, min(count, end - start, self.budget_steps - self.sam_steps))
        self.quota = float(count)
        self.plan = spread_evenly(count, end - start) if count else []
        self.plan += [False] * (self.window - len(self.plan))

    # ------------------------------------------------------------- reporting
    def stats(self, step: int) -> dict[str, float]:
        """Quota, latest PSF/gradient ratio, trend, reuse coefficient, window position."""
        position = step - self.warmup_steps
        return {
            "quota": self.quota,
            "psf_ratio": self.last_ratio,
            "psf_trend": self.trend,
            "mixing_coefficient": self.coefficient,
            "window_position": position % self.window if position >= 0 else -1,
        }

    # ----------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Any]:
        """Budget spent, plan, reuse state and the window's statistics."""
        return {
            "sam_steps": self.sam_steps,
            "quota": self.quota,
            "plan": list(self.plan),
            "coefficient": self.coefficient,
            "last_ratio": self.last_ratio,
            "trend": self.trend,
            "ratio_sum": self._ratio_sum,
            "previous_mean": self._previous_mean,
            "last_ratio_tensor": self._last_ratio,
            "window_sam_steps": self._window_sam_steps,
        }

    def load_state_dict(self, state: dict[str, Any], device: torch.device | None = None) -> None:
        """Restore a state written by ``state_dict`` (the caller checks settings and "step")."""
        self.sam_steps = int(state["sam_steps"])
        self.quota = float(state["quota"])
        self.plan = [bool(x) for x in state["plan"]]
        self.coefficient = float(state["coefficient"])
        self.last_ratio = float(state["last_ratio"])
        self.trend = float(state["trend"])
        self._ratio_sum = _to(state["ratio_sum"], device)
        self._previous_mean = _to(state["previous_mean"], device)
        self._last_ratio = _to(state["last_ratio_tensor"], device)
        self._window_sam_steps = int(state["window_sam_steps"])


def _to(value: Tensor | None, device: torch.device | None) -> Tensor | None:
    return None if value is None else value.to(device)
