"""The gradient-side maths of SAM and ARSAM as small pure functions on lists of tensors.

Every function works with multi-tensor (``torch._foreach_*``) kernels and returns
device tensors: none of them reads a value on the host.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .multi_tensor import copy_tensors, l2_norm

# One entry per parameter group that has gradients: the group and its parameters with a gradient.
GroupParams = list[tuple[dict[str, Any], list[Tensor]]]


def groups_with_grads(param_groups: list[dict[str, Any]]) -> GroupParams:
    """Each parameter group with its parameters that received a gradient."""
    groups = []
    for group in param_groups:
        params = [p for p in group["params"] if p.grad is not None]
        if params:
            groups.append((group, params))
    return groups


def grads_of(groups: GroupParams) -> list[list[Tensor]]:
    """The current ``.grad`` tensors of ``groups``, group by group."""
    return [[p.grad for p in params] for _, params in groups]


def with_first_grads(
    groups: GroupParams, first_grads: list[list[Tensor]]
) -> tuple[list[Tensor], list[Tensor]]:
    """The parameters that have a gradient now (g_sam), each with its first pass's g."""
    params, g = [], []
    for (_, group_params), group_grads in zip(groups, first_grads, strict=True):
        for p, grad in zip(group_params, group_grads, strict=True):
            if p.grad is not None:
                params.append(p)
                g.append(grad)
    return params, g


def all_grads(param_groups: list[dict[str, Any]]) -> list[Tensor]:
    """Every ``.grad`` of ``param_groups`` that exists, flattened."""
    return [p.grad for group in param_groups for p in group["params"] if p.grad is not None]


def perturbation_norm(groups: GroupParams, grads: list[list[Tensor]]) -> Tensor:
    """||g|| (||w g|| for adaptive groups) over every perturbed group, a 0-dim device tensor."""
    terms: list[Tensor] = []
    for (group, params), group_grads in zip(groups, grads, strict=True):
        if not group["perturb"]:
            continue
        terms.extend(torch._foreach_mul(params, group_grads) if group["adaptive"] else group_grads)
    if not terms:
        device = groups[0][1][0].device if groups else torch.device("cpu")
        return torch.zeros((), device=device)
    return l2_norm(terms)


def perturbation(
    group: dict[str, Any], params: list[Tensor], grads: list[Tensor], norm: Tensor, eps: float
) -> list[Tensor]:
    """e = rho g / (||g|| + eps), or ASAM's rho w^2 g / (||w g|| + eps) for an adaptive group."""
    scale = group["rho"] / (norm + eps)
    if not group["adaptive"]:
        return torch._foreach_mul(grads, scale)
    e = torch._foreach_mul(params, params)
    torch._foreach_mul_(e, grads)
    torch._foreach_mul_(e, scale)
    return e


def store_difference(
    out: list[Tensor], g_sam: list[Tensor], g: list[Tensor], g_scale: float | Tensor
) -> None:
    """out := g_sam - g_scale * g (PSF := g_sam - g, with g brought to g_sam's units)."""
    copy_tensors(out, g)
    torch._foreach_mul_(out, -g_scale)
    torch._foreach_add_(out, g_sam)


def add_scaled(grads: list[Tensor], term: list[Tensor], coefficient: float | Tensor) -> None:
    """grads := grads + coefficient * term (ARSAM's g + c PSF)."""
    if isinstance(coefficient, Tensor):
        torch._foreach_add_(grads, torch._foreach_mul(term, coefficient))
    else:
        torch._foreach_add_(grads, term, alpha=coefficient)


def cosine(a: list[Tensor], a_norm: Tensor, b: list[Tensor], b_norm: Tensor) -> Tensor:
    """cos(a, b) = 1 - ||a / ||a|| - b / ||b||||^2 / 2, to within rounding of 1.

    Exact to rounding when a and b are nearly parallel. Both vectors are normalised
    first, so their units (loss scales) may differ.
    """
    one = torch.ones_like(a_norm)
    gap = torch._foreach_mul(a, safe_ratio(one, a_norm))
    torch._foreach_sub_(gap, torch._foreach_mul(b, safe_ratio(one, b_norm)))
    return 1 - l2_norm(gap).square() / 2


def coefficient_along(x: list[Tensor], g: list[Tensor]) -> Tensor:
    """p with p g the projection of x on g (x . g / ||g||^2; 0 when g = 0), on the device.

    Global over the lists, not per tensor. Only g's direction enters p g, so g's units
    may differ from x's (a loss-scaled first pass).
    """
    x_norm, g_norm = l2_norm(x), l2_norm(g)
    return safe_ratio(x_norm * cosine(x, x_norm, g, g_norm), g_norm)


def remove_component_along(x: list[Tensor], g: list[Tensor], share: float = 1.0) -> None:
    """x := x - share (x . g / ||g||^2) g, in place (share 1: the part of x orthogonal to g).

    g = 0 leaves x unchanged.
    """
    torch._foreach_add_(x, torch._foreach_mul(g, -share * coefficient_along(x, g)))


def safe_ratio(numerator: Tensor, denominator: Tensor) -> Tensor:
    """numerator / denominator, or 0 where the denominator is 0, without leaving the device."""
    nonzero = denominator != 0
    safe = torch.where(nonzero, denominator, torch.ones_like(denominator))
    return torch.where(nonzero, numerator / safe, torch.zeros_like(numerator))
