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
from .multi_tensor import is_finite, l2_norm
from .sam import GroupParams
from .sam_k import SAMK


def _ratio_or_zero(numerator: Tensor, denominator: Tensor) -> Tensor:
    """numerator / denominator, or 0 where the denominator is 0, without leaving the device."""
    nonzero = denominator != 0
    safe = torch.where(nonzero, denominator, torch.ones_like(denominator))
    return torch.where(nonzero, numerator / safe, torch.zeros_like(numerator))


def _cosine(a: list[Tensor], a_norm: Tensor, b: list[Tensor], b_norm: Tensor) -> Tensor:
    """cos(a, b) = 1 - ||a / ||a|| - b / ||b||||^2 / 2, exact to rounding for nearly parallel a, b.

    Both vectors are normalised first, so their units (loss scales) may differ.
    """
    one = torch.ones_like(a_norm)
    gap = torch._foreach_mul(a, _ratio_or_zero(one, a_norm))
    torch._foreach_sub_(gap, torch._foreach_mul(b, _ratio_or_zero(one, b_norm)))
    return 1 - l2_norm(gap).square() / 2


class LookSAM(SAMK):
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
        check_number("alpha", alpha, low=0.0)
        super().__init__(params, base_optimizer, rho, adaptive, k, **kwargs)
        self.alpha = float(alpha)

    def _on_sam_gradient(
        self, groups: GroupParams, first_grads: list[list[Tensor]], grad_scaler: Any
    ) -> bool:
        """v := g_v / ||g_v|| with g_v = g_sam - ||g_sam|| cos(g_sam, g) g / ||g||."""
        params, g = [], []
        for (_, group_params), group_grads in zip(groups, first_grads):
            for p, grad in zip(group_params, group_grads):
                if p.grad is not None:
                    params.append(p)
                    g.append(grad)
        if not params:
            return True
        g_sam = [p.grad for p in params]
        g_norm, g_sam_norm = l2_norm(g), l2_norm(g_sam)
        projection = _ratio_or_zero(g_sam_norm * _cosine(g, g_norm, g_sam, g_sam_norm), g_norm)
        g_v = torch._foreach_mul(g, -projection)
        torch._foreach_add_(g_v, g_sam)
        g_v_norm = l2_norm(g_v)
        if self._checked(grad_scaler) and not is_finite(g_v_norm):
            return False
        torch._foreach_mul_(g_v, _ratio_or_zero(torch.ones_like(g_v_norm), g_v_norm))
        for p, direction in zip(params, g_v):
            self.state[p]["g_v_direction"] = direction
        return True

    def _on_plain_gradient(self) -> None:
        """g := g + alpha * ||g|| * v for every parameter with a stored direction."""
        grads, mixed, directions = [], [], []
        for group in self.param_groups:
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
