"""Momentum-SAM (Becker, Altrock, Risse, 2024): SAM's perturbation along the momentum, one pass.

Step t, with v the base optimizer's momentum as the previous step left it (SGD's
``momentum_buffer``, Adam's and AdamW's first moment ``exp_avg``, both as torch keeps them):

    before the forward   w~ = w - rho v / (||v|| + eps)     (no v yet, at step 0: w~ = w)
    the one pass         g = grad L(w~)
    update               back to w; the base optimizer steps from w with g (and v absorbs g)

||v|| is global: over every perturbed parameter group at once, as the official code
takes it. The sign follows the official ``optimizer/msam.py`` and ``adamW_msam.py``: v
points uphill (it accumulates gradients), so w~ lies ahead along the update direction.
At the first step there is no momentum (torch creates it in that step), so the
gradient is taken at w, as the official code does with its zero momentum and zero
inverse norm. One forward-backward pass per step: ``stats["grad_evals"] / steps = 1``.
No host read: the norm stays on the device.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from .multi_tensor import copy_tensors, l2_norm
from .rule import StepRule
from .two_pass import Closure, TwoPassOptimizer

# The base optimizers whose momentum the paper defines the perturbation with, and its state key.
MOMENTUM_STATE = (
    (torch.optim.SGD, "momentum_buffer"),
    (torch.optim.AdamW, "exp_avg"),
    (torch.optim.Adam, "exp_avg"),
)


def momentum_state_key(base_optimizer: type[torch.optim.Optimizer]) -> str | None:
    """The state key of ``base_optimizer``'s momentum (SGD, Adam, AdamW); None for the others."""
    for kind, key in MOMENTUM_STATE:
        if isinstance(base_optimizer, type) and issubclass(base_optimizer, kind):
            return key
    return None


class MomentumAscent(StepRule):
    """Momentum-SAM's decisions: no step takes a second pass (the perturbation comes before)."""

    name = "MomentumSAM"

    def sam_step_ahead(self, step: int) -> bool:
        """Never: the one pass is already taken at the perturbed weights."""
        return False


class MomentumSAM(TwoPassOptimizer):
    """Momentum-SAM: the one pass at w - rho v/||v||, the base optimizer's update from w.

    The weights are perturbed at the start of each step, before its forward pass, and
    put back before the base optimizer updates them, so outside ``step`` they are
    always the unperturbed w: the model's ``state_dict``, checkpoints, evaluation and
    EMA need no extra call. The official code instead leaves the weights perturbed
    between steps (moving them back for evaluation); both take the gradient at the
    same point w_t - rho v_t/||v_t|| and update the same w_t, so they are one
    algorithm, and this placement costs nothing extra. One difference in detail: the
    base optimizer's weight decay acts on w (the official SGD variant adds it to the
    gradient at w~). BatchNorm's statistics are those of the perturbed forward, as in
    the official code.

    ``opt.step(closure)`` does all of it. Loops that run backward themselves call
    ``opt.before_forward()`` before the forward pass, then ``opt.first_step()``
    (always False: there is no second pass); a ``first_step`` without it is refused.

    Args:
        params: parameters or parameter groups (groups may set ``rho`` and
            ``perturb=False``).
        base_optimizer: ``torch.optim.SGD`` with ``momentum > 0``, ``torch.optim.Adam``
            or ``torch.optim.AdamW`` with ``betas[0] > 0``; ``base_kwargs`` go to it.
        rho: the length of the perturbation, >= 0 (the official configs use 3 where
            SAM uses 0.2: the units differ from SAM's).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        base_optimizer: type[torch.optim.Optimizer],
        rho: float = 3.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(params, base_optimizer, MomentumAscent(), rho, False, **kwargs)
        self._state_key = _check_momentum(type(self.base_optimizer), self.param_groups)
        # while perturbed: per group (params, rho), and ||v|| (None: the weights sit at w)
        self._moved: tuple[list[tuple[list[Tensor], float]], Tensor] | None = None
        self._copies: list[Tensor] | None = None

    # ------------------------------------------------------------------ moves
    @torch.compiler.disable
    @torch.no_grad()
    def before_forward(self) -> None:
        """Move the weights to w - rho v/||v|| for the coming forward pass (again: no change)."""
        self._move(exact=self._checks_expected())

    def _move(self, exact: bool) -> None:
        """w := w - rho v/(||v|| + eps); with ``exact``, keep a copy of w to restore bit for bit."""
        if self._moved is not None:
            return
        groups, buffers = [], []
        for group in self.param_groups:
            if not group["perturb"] or group["rho"] == 0:
                continue
            params, moments = [], []
            for p in group["params"]:
                moment = self.base_optimizer.state.get(p, {}).get(self._state_key)
                if moment is not None:
                    params.append(p)
                    moments.append(moment)
            if params:
                groups.append((params, moments, group["rho"]))
                buffers.extend(moments)
        if not buffers:  # the first step: no momentum yet, the gradient is taken at w
            self._moved = ([], torch.zeros(()))
            return
        norm = l2_norm(buffers)
        if exact:
            every = [p for params, _, _ in groups for p in params]
            self._copies = [torch.empty_like(p) for p in every]
            copy_tensors(self._copies, every)
        for params, moments, rho in groups:
            torch._foreach_sub_(params, torch._foreach_mul(moments, rho / (norm + self.eps)))
        self._moved = ([(params, rho) for params, _, rho in groups], norm)

    def _move_back(self) -> None:
        """Back to w: the copy when one was kept, else w~ + rho v/(||v|| + eps) (v unchanged)."""
        moved, self._moved = self._moved, None
        copies, self._copies = self._copies, None
        if moved is None:
            return
        groups, norm = moved
        if copies is not None:
            copy_tensors([p for params, _ in groups for p in params], copies)
            return
        for params, rho in groups:
            moments = [self.base_optimizer.state[p][self._state_key] for p in params]
            torch._foreach_add_(params, torch._foreach_mul(moments, rho / (norm + self.eps)))

    # ------------------------------------------------------------------- step
    @torch.compiler.disable
    @torch.no_grad()
    def step(
        self,
        closure: Closure | None = None,
        grad_scaler: Any = None,
        *,
        second_pass: Closure | None = None,
    ) -> Any:
        """Run ``closure`` once at the perturbed weights and update w; returns its loss."""
        if closure is not None:
            self._move(exact=self._checks_expected() or grad_scaler is not None)
        try:
            return super().step(closure, grad_scaler, second_pass=second_pass)
        finally:
            self._move_back()  # a no-op after first_step; the weights back if the closure raised

    @torch.compiler.disable
    @torch.no_grad()
    def first_step(self, zero_grad: bool = False, grad_scaler: Any = None) -> bool:
        """After the pass at w~: move back to w and let the base optimizer update (always False)."""
        if self._moved is None:
            raise RuntimeError(
                f"{type(self).__name__}.first_step() was called without before_forward(): "
                "Momentum-SAM takes its gradient at the perturbed weights w - rho v/||v||, "
                "so the forward pass must run after opt.before_forward(); without it every "
                "step would silently be the base optimizer's. Call opt.before_forward() "
                "before the forward pass, or use opt.step(closure), which does it."
            )
        self._move_back()
        return super().first_step(zero_grad=zero_grad, grad_scaler=grad_scaler)


def _check_momentum(base: type[torch.optim.Optimizer], param_groups: list[dict[str, Any]]) -> str:
    """The state key of the base optimizer's momentum; a paragraph if it keeps none."""
    key = momentum_state_key(base)
    if key == "momentum_buffer":
        without = [i for i, g in enumerate(param_groups) if not g.get("momentum")]
        reason = f"momentum=0 (parameter groups {without})" if without else ""
    elif key == "exp_avg":
        without = [i for i, g in enumerate(param_groups) if not g["betas"][0]]
        reason = f"betas[0]=0 (parameter groups {without})" if without else ""
    else:
        reason = "no momentum buffer or first moment that the paper defines the perturbation with"
    adaptive = [i for i, g in enumerate(param_groups) if g.get("adaptive")]
    if adaptive:
        raise ValueError(
            f"MomentumSAM has no adaptive (ASAM) form, but parameter groups {adaptive} set "
            "adaptive=True: remove adaptive from those groups, or use SAM(..., adaptive=True)."
        )
    if not reason:
        return key
    raise ValueError(
        f"MomentumSAM perturbs the weights along the base optimizer's momentum, and "
        f"{base.__name__} has {reason}. Use torch.optim.SGD with momentum > 0 (e.g. "
        "momentum=0.9), or torch.optim.Adam / torch.optim.AdamW with betas[0] > 0, as the "
        "base optimizer; for a base optimizer without momentum, use a method that perturbs "
        "along the gradient (SAM, ARSAM)."
    )
