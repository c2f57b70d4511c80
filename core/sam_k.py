"""SAM-k: a full SAM step every k steps, plain base-optimizer steps in between.

With t the number of completed steps (a step skipped for non-finite gradients
does not count):

    t mod k = 0:  g_sam = grad L(w + rho * g / ||g||),  base optimizer steps with g_sam
    otherwise:    one pass, base optimizer steps with g = grad L(w)

So SAM runs at steps 0, k, 2k, ... and the cost is (1 + 1/k) passes per step.
The decision is host arithmetic on a counter: no device synchronisation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from .arguments import check_number
from .selective_sam import SelectiveSAM


class SAMK(SelectiveSAM):
    """SAM every ``k`` steps, the base optimizer alone on the others.

    Args (beyond SAM's):
        k: period of the SAM steps, an integer >= 1 (k = 1 is SAM).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        base_optimizer: type[torch.optim.Optimizer],
        rho: float = 0.05,
        adaptive: bool = False,
        k: int = 5,
        **kwargs: Any,
    ) -> None:
        check_number("k", k, low=1, integer=True)
        super().__init__(params, base_optimizer, rho, adaptive, **kwargs)
        self.k = k

    def _sam_step_ahead(self) -> bool:
        return self.counters["steps"] % self.k == 0
