"""LookSAM (Liu et al., CVPR 2022): SAM every k steps, its sharpness direction reused in between.

Algorithm 1 of the paper, with g = grad L(w) on the step's minibatch:

    t mod k = 0 (SAM step):
        g_sam = grad L(w + rho * g / ||g||)
        g_v   = g_sam - ||g_sam|| cos(g_sam, g) * g / ||g||    the part of g_sam orthogonal to g
        base optimizer steps with g_sam
    otherwise (one pass):
        g_s   = g + alpha * (||g|| / ||g_v||) * g_v
        base optimizer steps with g_s

Inner products and norms are global: taken over every parameter with a gradient
at once, as in Algorithm 1 (not per layer). Only g_v's direction enters the
update, so v = g_v / ||g_v|| is what is stored (``state[p]["g_v_direction"]``)
and the reuse step adds alpha * ||g|| * v. This also makes the stored term
independent of the loss scale under mixed precision: cos is computed between
unit vectors (1 - ||g / ||g|| - g_sam / ||g_sam|| ||^2 / 2, accurate because the
two are nearly parallel), so the loss-scaled g of the first pass and the
unscaled g_sam of the second can be combined as they are, and v has no units.

No device synchronisation per step (with ``skip_nonfinite`` or a GradScaler, a
SAM step also checks that v is finite: one more host read on those steps).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from .arguments import check_number
from .gradients import GroupParams, coefficient_along, safe_ratio, with_first_grads
from .multi_tensor import is_finite, l2_norm
from .sam_k import EveryKthStep
from .two_pass import TwoPassOptimizer


def orthogonal_direction(g: list[Tensor], g_sam: list[Tensor]) -> tuple[list[Tensor], Tensor]:
    """(v, ||g_v||): g_v = g_sam - ||g_sam|| cos(g_sam, g) g / ||g||, v = g_v / ||g_v||."""
    g_v = torch._foreach_mul(g, -coefficient_along(g_sam, g))
    torch._foreach_add_(g_v, g_sam)
    g_v_norm = l2_norm(g_v)
    torch._foreach_mul_(g_v, safe_ratio(torch.ones_like(g_v_norm), g_v_norm))
    return g_v, g_v_norm


class ReusedOrthogonalDirection(EveryKthStep):
    """SAM every k steps; in between, g + alpha ||g|| v with v stored at the last SAM step."""

    name = "LookSAM"

    def __init__(self, k: int, alpha: float) -> None:
        super().__init__(k)
        check_number("alpha", alpha, low=0.0)
        self.alpha = float(alpha)

    def on_sam_gradient(
        self,
        groups: GroupParams,
        first_grads: list[list[Tensor]],
        inverse_scale: float | Tensor,
        checked: bool,
    ) -> bool:
        """v := g_v / ||g_v||, stored per parameter; False when v is not finite (checked)."""
        params, g = with_first_grads(groups, first_grads)
        if not params:
            return True
        direction, g_v_norm = orthogonal_direction(g, [p.grad for p in params])
        # note: a CPU-GPU sync point, only with the opt-in non-finite checks
        if checked and not is_finite(g_v_norm):
            return False
        for p, v in zip(params, direction, strict=True):
            self.state[p]["g_v_direction"] = v
        return True

    def on_one_pass_gradient(self, param_groups: list[dict[str, Any]]) -> None:
        """g := g + alpha * ||g|| * v for every parameter with a stored direction."""
        grads, mixed, directions = [], [], []
        for group in param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grads.append(p.grad)
                direction = self.state.get(p, {}).get("g_v_direction")
                if direction is not None:
                    mixed.append(p.grad)
                    directions.append(direction)
        if not directions or self.alpha == 0:
            return
        torch._foreach_add_(mixed, torch._foreach_mul(directions, l2_norm(grads) * self.alpha))

    def settings(self) -> dict[str, Any]:
        """k and alpha."""
        return {"k": self.k, "alpha": self.alpha}


class LookSAM(TwoPassOptimizer):
    """SAM every ``k`` steps; in between, g plus the stored orthogonal direction scaled by ||g||.

    Args (beyond SAM's):
        k: period of the SAM steps, an integer >= 1.
        alpha: weight of the reused direction, >= 0 (alpha = 0 is SAM-k).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        base_optimizer: type[torch.optim.Optimizer],
        rho: float = 0.05,
        adaptive: bool = False,
        k: int = 5,
        alpha: float = 0.7,
        **kwargs: Any,
    ) -> None:
        rule = ReusedOrthogonalDirection(k, alpha)
        super().__init__(params, base_optimizer, rule, rho, adaptive, **kwargs)
