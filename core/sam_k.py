"""SAM-k: a full SAM step every k steps, plain base-optimizer steps in between.

With t the number of completed steps (a skipped step does not count): SAM at
t mod k = 0, one pass with g otherwise. Cost: (1 + 1/k) passes per step. The
decision is host arithmetic on a counter: no device synchronisation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from .arguments import check_number
from .rule import StepRule
from .two_pass import TwoPassOptimizer


class EveryKthStep(StepRule):
    """SAM at completed-step counts 0, k, 2k, ..."""

    name = "SAMK"

    def __init__(self, k: int) -> None:
        super().__init__()
        check_number("k", k, low=1, integer=True)
        self.k = k

    def sam_step_ahead(self, step: int) -> bool:
        """SAM when ``step`` is a multiple of k."""
        return step % self.k == 0

    def settings(self) -> dict[str, Any]:
        """The period k."""
        return {"k": self.k}


class SAMK(TwoPassOptimizer):
    """SAM every ``k`` steps, the base optimizer alone on the others (k = 1 is SAM)."""

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        base_optimizer: type[torch.optim.Optimizer],
        rho: float = 0.05,
        adaptive: bool = False,
        k: int = 5,
        **kwargs: Any,
    ) -> None:
        super().__init__(params, base_optimizer, EveryKthStep(k), rho, adaptive, **kwargs)

    @property
    def k(self) -> int:
        """The period of the SAM steps."""
        return self.rule.k
