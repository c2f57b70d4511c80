"""SAM: Sharpness-Aware Minimization (Foret et al., 2021) around any torch optimizer.

One step, on one minibatch: g = grad L(w); e = rho g / (||g|| + eps) (global L2
norm over the perturbed groups; ``adaptive=True``: ASAM's rho w^2 g / (||w g|| + eps));
g_sam = grad L(w + e) with statistics frozen; w := w + e - e; the base optimizer
steps with g_sam. The step itself is core/two_pass.py; SAM is its rule "always".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from .rule import StepRule
from .two_pass import TwoPassOptimizer


class SAM(TwoPassOptimizer):
    """Sharpness-Aware Minimization: two forward-backward passes every step around a base optimizer.

    Takes TwoPassOptimizer's arguments without ``rule``::

        opt = SAM(model.parameters(), torch.optim.SGD, rho=0.05, lr=0.1, momentum=0.9)
        opt.step(closure)   # closure: zero_grad, loss, backward, return loss
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        base_optimizer: type[torch.optim.Optimizer],
        rho: float = 0.05,
        adaptive: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(params, base_optimizer, StepRule(), rho, adaptive, **kwargs)
