"""RST / SS-SAM (Zhao et al., 2022): each step is a SAM step with probability p_t.

Randomized sharpness-aware training. Before step t (t completed steps so far):

    u_t ~ U[0, 1)                       from a CPU torch.Generator seeded with ``seed``
    p_t = p_start                                           (p_end None: constant)
    p_t = p_start + (p_end - p_start) * min(t / T, 1)       (linear over T = total_steps)
    SAM step  iff  u_t < p_t            (a Bernoulli(p_t) trial)

A linear schedule's T is given at construction or with ``set_total_steps`` before
the first step; a constant probability needs none.

A SAM step updates with g_sam after two passes, the others with g after one.
The expected cost is (1 + mean p_t) passes per step.

The generator lives on the host and is seeded identically on every rank, so
all ranks make the same decisions; drawing u_t reads a CPU tensor and never
waits for the device. u_t is drawn once per completed step: a step skipped for
non-finite gradients is retried with the same draw.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from .arguments import check_number
from .host_schedule import draw_uniforms, linear_schedule
from .rule import StepRule
from .two_pass import TwoPassOptimizer


class RandomSteps(StepRule):
    """Step t is a SAM step iff a uniform draw from a seeded CPU generator is below p_t."""

    name = "RandomSAM"

    def __init__(
        self, p_start: float, p_end: float | None, total_steps: int | None, seed: int
    ) -> None:
        super().__init__()
        check_number("p_start", p_start, low=0.0, high=1.0)
        if p_end is not None:
            check_number("p_end", p_end, low=0.0, high=1.0)
        self.total_steps: int | None = None
        if total_steps is not None:
            self.set_total_steps(total_steps)
        check_number("seed", seed, integer=True)
        self.p_start = float(p_start)
        self.p_end = None if p_end is None else float(p_end)
        self.needs_total_steps = self.p_end is not None  # a constant p_t plans no length
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self.draw = self._uniform()

    def set_total_steps(self, total_steps: int) -> None:
        """T, the length of the linear schedule."""
        check_number("total_steps", total_steps, low=1, integer=True)
        self.total_steps = int(total_steps)

    def planned_steps(self) -> int | None:
        """T when the probability is scheduled (p_end given), else no plan."""
        return None if self.p_end is None else self.total_steps

    def probability(self, step: int | None = None) -> float:
        """p_t for step ``step`` (default: the coming step)."""
        if self.p_end is None:
            return self.p_start
        step = self.steps if step is None else step
        return linear_schedule(self.p_start, self.p_end, step, self.total_steps)

    def _uniform(self) -> float:
        return draw_uniforms(self.generator, 1)[0]

    def sam_step_ahead(self, step: int) -> bool:
        """The pending draw against p_t."""
        return self.draw < self.probability()

    def commit(self, sam: bool) -> None:
        """Draw for the next step."""
        self.draw = self._uniform()

    def stats(self) -> dict[str, float]:
        """The SAM probability of the coming step (NaN while a schedule's T is unknown)."""
        known = self.p_end is None or self.total_steps is not None
        return {"sam_probability": self.probability() if known else math.nan}

    def settings(self) -> dict[str, Any]:
        """p_start, p_end, T and the seed."""
        return {
            "p_start": self.p_start,
            "p_end": self.p_end,
            "total_steps": self.total_steps,
            "seed": self.seed,
        }

    def state_dict(self) -> dict[str, Any]:
        """The generator and the pending draw (the step count is the optimizer's)."""
        return {"generator": self.generator.get_state(), "draw": self.draw}

    def load_state_dict(self, state: dict[str, Any], device: torch.device | None) -> None:
        """Restore the generator and the draw."""
        self.generator.set_state(state["generator"].cpu())
        self.draw = float(state["draw"])


class RandomSAM(TwoPassOptimizer):
    """SAM on a random subset of steps: step t is a SAM step with probability p_t.

    Args (beyond SAM's):
        p_start: the SAM probability, in [0, 1] (at the first step when scheduled).
        p_end: None for a constant probability; otherwise the probability from
            step ``total_steps`` on, reached linearly from ``p_start``.
        total_steps: T, the length of the linear schedule; with ``p_end``, may be left out
            and given later with ``set_total_steps`` before the first step (MMEngine's
            SAMOptimWrapper does so from the train loop). A constant probability ignores
            a length given later.
        seed: seed of the decision generator; identical on every rank.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        base_optimizer: type[torch.optim.Optimizer],
        rho: float = 0.05,
        adaptive: bool = False,
        p_start: float = 0.5,
        p_end: float | None = None,
        total_steps: int | None = None,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        rule = RandomSteps(p_start, p_end, total_steps, seed)
        super().__init__(params, base_optimizer, rule, rho, adaptive, **kwargs)
