"""Late-phase SAM (Zhou et al., ICLR 2025): the base optimizer first, SAM for the final part.

"Sharpness-aware minimization efficiently selects flatter minima late in
training": SAM applied only over the last fraction p of training reaches
nearly the generalisation of SAM throughout. With T = ``total_steps`` and t the
completed steps, step t is a SAM step iff t >= T - round(p T); cost 1 + p passes
per step. Host arithmetic only: no device synchronisation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from .arguments import check_number
from .rule import StepRule
from .two_pass import TwoPassOptimizer


class FinalFraction(StepRule):
    """SAM on the last ``round(sam_fraction * total_steps)`` steps of the run."""

    name = "LateSAM"
    needs_total_steps = True

    def __init__(self, total_steps: int | None, sam_fraction: float) -> None:
        super().__init__()
        check_number("sam_fraction", sam_fraction, low=0.0, high=1.0)
        self.sam_fraction = float(sam_fraction)
        self.total_steps: int | None = None
        self.first_sam_step: int | None = None
        if total_steps is not None:
            self.set_total_steps(total_steps)

    def set_total_steps(self, total_steps: int) -> None:
        """T, the run's length, and with it the first SAM step."""
        check_number("total_steps", total_steps, low=1, integer=True)
        self.total_steps = int(total_steps)
        self.first_sam_step = self.total_steps - round(self.sam_fraction * self.total_steps)

    def planned_steps(self) -> int | None:
        """T, the run's length."""
        return self.total_steps

    def sam_step_ahead(self, step: int) -> bool:
        """SAM from step T - round(p T) on."""
        return step >= self.first_sam_step

    def settings(self) -> dict[str, Any]:
        """T and p."""
        return {"total_steps": self.total_steps, "sam_fraction": self.sam_fraction}


class LateSAM(TwoPassOptimizer):
    """The base optimizer for the first (1 - p) of ``total_steps``, SAM for the rest.

    Args (beyond SAM's):
        total_steps: T, the run's length in steps; may be left out and given later with
            ``set_total_steps`` before the first step (MMEngine's SAMOptimWrapper does so from
            the train loop).
        sam_fraction: p in [0, 1], the final share of training with SAM steps.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        base_optimizer: type[torch.optim.Optimizer],
        rho: float = 0.05,
        adaptive: bool = False,
        total_steps: int | None = None,
        sam_fraction: float = 0.25,
        **kwargs: Any,
    ) -> None:
        rule = FinalFraction(total_steps, sam_fraction)
        super().__init__(params, base_optimizer, rule, rho, adaptive, **kwargs)
