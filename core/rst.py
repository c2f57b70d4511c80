"""RST / SS-SAM (Zhao et al., 2022): each step is a SAM step with probability p_t.

Randomized sharpness-aware training. Before step t (t completed steps so far):

    u_t ~ U[0, 1)                       from a CPU torch.Generator seeded with ``seed``
    p_t = p_start                                           (p_end None: constant)
    p_t = p_start + (p_end - p_start) * min(t / T, 1)       (linear over T = total_steps)
    SAM step  iff  u_t < p_t            (a Bernoulli(p_t) trial)

A SAM step updates with g_sam after two passes, the others with g after one.
The expected cost is (1 + mean p_t) passes per step.

The generator lives on the host and is seeded identically on every rank, so
all ranks make the same decisions; drawing u_t reads a CPU tensor and never
waits for the device. u_t is drawn once per completed step: a step skipped for
non-finite gradients is retried with the same draw.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from .arguments import check_number
from .selective_sam import SelectiveSAM, linear_schedule


class RandomSAM(SelectiveSAM):
    """SAM on a random subset of steps: step t is a SAM step with probability p_t.

    Args (beyond SAM's):
        p_start: the SAM probability, in [0, 1] (at the first step when scheduled).
        p_end: None for a constant probability; otherwise the probability from
            step ``total_steps`` on, reached linearly from ``p_start``.
        total_steps: T, the length of the linear schedule; required with ``p_end``.
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
        check_number("p_start", p_start, low=0.0, high=1.0)
        if p_end is not None:
            check_number("p_end", p_end, low=0.0, high=1.0)
            if total_steps is None:
                raise TypeError(
                    "RandomSAM with p_end needs total_steps, the number of steps over which "
                    "the SAM probability moves from p_start to p_end"
                )
        if total_steps is not None:
            check_number("total_steps", total_steps, low=1, integer=True)
        check_number("seed", seed, integer=True)
        super().__init__(params, base_optimizer, rho, adaptive, **kwargs)
        self.p_start = float(p_start)
        self.p_end = None if p_end is None else float(p_end)
        self.total_steps = total_steps
        self.generator = torch.Generator().manual_seed(seed)
        self.draw = self._uniform()

    def probability(self, step: int | None = None) -> float:
        """p_t for step ``step`` (default: the coming step)."""
        if self.p_end is None or self.total_steps is None:
            return self.p_start
        step = self.counters["steps"] if step is None else step
        return linear_schedule(self.p_start, self.p_end, step, self.total_steps)

    def _uniform(self) -> float:
        return float(torch.rand((), generator=self.generator))

    def _sam_step_ahead(self) -> bool:
        return self.draw < self.probability()

    def _commit(self, sam: bool) -> None:
        self.draw = self._uniform()

    # ------------------------------------------------------------- reporting
    @property
    def stats(self) -> dict[str, float]:
        """SAM's counters plus the SAM probability of the coming step."""
        stats = super().stats
        stats["sam_probability"] = self.probability()
        return stats

    # ------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Any]:
        """SAM's state_dict plus the generator's state and the pending draw."""
        state = super().state_dict()
        state["rst"] = {"generator": self.generator.get_state(), "draw": self.draw}
        return state

    def _pop_extra_state(self, state_dict: dict[str, Any]) -> Any:
        return state_dict.pop("rst")

    def _load_extra_state(self, extra: Any) -> None:
        self.generator.set_state(extra["generator"].cpu())
        self.draw = float(extra["draw"])
