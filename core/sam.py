"""SAM: Sharpness-Aware Minimization (Foret et al., 2021) around any torch optimizer.

One step, on one minibatch (``closure`` evaluates it):

1. g = grad L(w)                              first pass
2. e = rho * g / (||g|| + eps)                global L2 norm over the perturbed groups
   (adaptive=True: e = rho * w^2 g / (||w g|| + eps), ASAM's element-wise scaling)
3. g_sam = grad L(w + e)                      second pass, statistics frozen
4. w := w + e - e, then the base optimizer steps with g_sam

The base optimizer shares this object's ``param_groups``, so learning-rate
schedulers attached to the SAM object drive it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn

from .arguments import check_base_optimizer, check_number, require_closure
from .frozen_stats import FrozenStatistics
from .multi_tensor import is_finite, l2_norm

Closure = Callable[[], Any]
# One entry per parameter group that has gradients: the group and its parameters with a gradient.
GroupParams = list[tuple[dict[str, Any], list[Tensor]]]

_OWN_GROUP_KEYS = ("rho", "adaptive", "perturb")


class SAM(torch.optim.Optimizer):
    """Sharpness-Aware Minimization: two forward-backward passes per step around a base optimizer.

    Args:
        params: parameters or parameter groups. Groups may override ``rho``,
            ``adaptive`` and ``perturb`` (``perturb=False``: the group is not
            moved by the perturbation, its gradient is still used).
        base_optimizer: a torch.optim.Optimizer class; ``base_kwargs`` go to it.
        rho: radius of the perturbation, >= 0.
        adaptive: ASAM's scale-invariant perturbation.
        eps: added to the gradient norm before dividing by it.
        max_grad_norm: clip the gradient the base optimizer uses (the final,
            mixed gradient) to this global L2 norm; None: no clipping.
        skip_nonfinite: check gradients for inf/NaN (one host sync per pass)
            and skip the step, leaving all state untouched, when they are not
            finite. Always on when a GradScaler is passed to ``step``.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        base_optimizer: type[torch.optim.Optimizer],
        rho: float = 0.05,
        adaptive: bool = False,
        *,
        eps: float = 1e-12,
        max_grad_norm: float | None = None,
        grad_norm_type: float = 2.0,
        skip_nonfinite: bool = False,
        **base_kwargs: Any,
    ) -> None:
        check_base_optimizer(base_optimizer)
        check_number("rho", rho, low=0.0)
        check_number("eps", eps, low=0.0, low_open=True)
        if max_grad_norm is not None:
            check_number("max_grad_norm", max_grad_norm, low=0.0, low_open=True)
        defaults = dict(rho=rho, adaptive=bool(adaptive), perturb=True)
        super().__init__(params, defaults)
        self.base_optimizer = base_optimizer(self.param_groups, **base_kwargs)
        self.param_groups = self.base_optimizer.param_groups
        self.defaults.update(self.base_optimizer.defaults)
        self.eps = eps
        self.max_grad_norm = max_grad_norm
        self.grad_norm_type = grad_norm_type
        self.skip_nonfinite = skip_nonfinite
        self._frozen: list[FrozenStatistics] = []
        self.counters = {"steps": 0, "sam_steps": 0, "grad_evals": 0, "skipped_steps": 0}

    # ----------------------------------------------------------------- set-up
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group to this optimizer and to the base optimizer."""
        for key in _OWN_GROUP_KEYS:
            param_group.setdefault(key, self.defaults[key])
        check_number("rho", param_group["rho"], low=0.0)
        if hasattr(self, "base_optimizer"):
            self.base_optimizer.add_param_group(param_group)
        else:
            super().add_param_group(param_group)

    def freeze_statistics_of(self, model: nn.Module) -> None:
        """Freeze ``model``'s statistics-collecting modules (BatchNorm...) during second passes."""
        self._frozen.append(FrozenStatistics(model))

    # ------------------------------------------------------------------- step
    @torch.no_grad()
    def step(self, closure: Closure | None = None, grad_scaler: Any = None) -> Any:
        """Run both passes of ``closure`` and update the weights; returns the first pass's loss.

        With fp16 and a ``torch.amp.GradScaler``, the closure backpropagates
        ``scaler.scale(loss)`` and the call is ``opt.step(closure,
        grad_scaler=scaler)`` followed by ``scaler.update()``.
        """
        closure = require_closure(closure, type(self).__name__)
        checked = self.skip_nonfinite or grad_scaler is not None
        loss = self._evaluate(closure)
        groups = self._groups_with_grads()
        grads = _grads_of(groups)
        norm = self._perturbation_norm(groups, grads)
        if checked and not is_finite(norm):
            return self._skip_step(loss, grad_scaler, unscaled=False)
        self._second_pass(closure, groups, grads, norm, exact=checked)
        del grads
        if not self._unscale_and_check(grad_scaler, checked):
            return self._skip_step(loss, grad_scaler, unscaled=True)
        self._apply_update()
        self._count_step(sam=True)
        return loss

    # ------------------------------------------------- pieces of a SAM step
    def _evaluate(self, closure: Closure) -> Any:
        """Run one forward-backward pass."""
        with torch.enable_grad():
            loss = closure()
        self.counters["grad_evals"] += 1
        return loss

    def _groups_with_grads(self) -> GroupParams:
        """Each parameter group with its parameters that received a gradient."""
        groups = []
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                groups.append((group, params))
        return groups

    def _perturbation_norm(self, groups: GroupParams, grads: list[list[Tensor]]) -> Tensor:
        """||g|| (or ||w g|| for adaptive groups) over all perturbed groups, on the device."""
        terms: list[Tensor] = []
        for (group, params), group_grads in zip(groups, grads, strict=False):
            if not group["perturb"]:
                continue
            if group["adaptive"]:
                terms.extend(torch._foreach_mul(params, group_grads))
            else:
                terms.extend(group_grads)
        if not terms:
            return torch.zeros((), device=_device_of(groups))
        return l2_norm(terms)

    def _perturbation(
        self, groups: GroupParams, grads: list[list[Tensor]], norm: Tensor
    ) -> list[list[Tensor] | None]:
        """e = rho * g / (||g|| + eps) per group (rho * w^2 g / ... when adaptive)."""
        perturbation: list[list[Tensor] | None] = []
        for (group, params), group_grads in zip(groups, grads, strict=False):
            if not group["perturb"] or group["rho"] == 0:
                perturbation.append(None)
                continue
            scale = group["rho"] / (norm + self.eps)
            if group["adaptive"]:
                e = torch._foreach_mul(params, params)
                torch._foreach_mul_(e, group_grads)
                torch._foreach_mul_(e, scale)
            else:
                e = torch._foreach_mul(group_grads, scale)
            perturbation.append(e)
        return perturbation

    def _second_pass(
        self,
        closure: Closure,
        groups: GroupParams,
        grads: list[list[Tensor]],
        norm: Tensor,
        exact: bool,
    ) -> Any:
        """Move to w + e, run the closure with statistics frozen, move back; .grad holds g_sam.

        ``exact``: restore the weights from a copy, bit for bit, so that a step
        which is then skipped leaves them as they were. Otherwise subtract the
        same e again, recomputed from the first pass's gradient (kept alive for
        the second pass anyway): no copy of the weights, and the weights come
        back within rounding. ASAM's e depends on w, so it is kept instead.
        """
        undo: list[Callable[[], None]] = []
        for (group, params), group_grads, e in zip(
            groups, grads, self._perturbation(groups, grads, norm)
        ):
            if e is None:
                continue
            if exact:
                copies = [torch.empty_like(p) for p in params]
                torch._foreach_copy_(copies, params)
                undo.append(partial(torch._foreach_copy_, params, copies))
            elif group["adaptive"]:
                undo.append(partial(torch._foreach_sub_, params, e))
            else:
                undo.append(partial(self._subtract_perturbation, group, params, group_grads, norm))
            torch._foreach_add_(params, e)
            del e
        for _, params in groups:
            for p in params:
                p.grad = None
        try:
            with self._statistics_frozen():
                loss = self._evaluate(closure)
        finally:
            for restore in undo:
                restore()
        return loss

    def _subtract_perturbation(
        self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor], norm: Tensor
    ) -> None:
        """w := w - e with e = rho * g / (||g|| + eps) computed exactly as when it was added."""
        torch._foreach_sub_(params, torch._foreach_mul(grads, group["rho"] / (norm + self.eps)))

    @contextmanager
    def _statistics_frozen(self) -> Iterator[None]:
        """Freeze every registered model's statistics for the duration of the block."""
        with ExitStack() as stack:
            for frozen in self._frozen:
                stack.enter_context(frozen())
            yield

    def _unscale_and_check(self, grad_scaler: Any, checked: bool) -> bool:
        """Unscale the final gradients (GradScaler) and tell whether the step may proceed."""
        if grad_scaler is not None:
            grad_scaler.unscale_(self)
        if not checked:
            return True
        grads = [
            p.grad for group in self.param_groups for p in group["params"] if p.grad is not None
        ]
        return is_finite(l2_norm(grads))

    def _skip_step(self, loss: Any, grad_scaler: Any, unscaled: bool) -> Any:
        """Leave weights and optimizer state as they were; let the GradScaler see the overflow."""
        if grad_scaler is not None and not unscaled:
            grad_scaler.unscale_(self)
        self.counters["skipped_steps"] += 1
        return loss

    def _apply_update(self) -> None:
        """Clip the final gradient if asked, then let the base optimizer step."""
        if self.max_grad_norm is not None:
            params = [
                p for group in self.param_groups for p in group["params"] if p.grad is not None
            ]
            torch.nn.utils.clip_grad_norm_(
                params, self.max_grad_norm, norm_type=self.grad_norm_type, foreach=True
            )
        self.base_optimizer.step()

    def _count_step(self, sam: bool) -> None:
        self.counters["steps"] += 1
        self.counters["sam_steps"] += int(sam)

    # ------------------------------------------------------------- reporting
    @property
    def stats(self) -> dict[str, float]:
        """Host-side counters for loggers: steps, sam_steps, grad_evals, sam_fraction, ..."""
        counters = dict(self.counters)
        steps = counters["steps"]
        counters["sam_fraction"] = counters["sam_steps"] / steps if steps else 0.0
        return counters

    # ------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: own state, the base optimizer's state and the counters."""
        state = super().state_dict()
        state["base_optimizer"] = self.base_optimizer.state_dict()
        state["counters"] = dict(self.counters)
        state["kind"] = type(self).__name__
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state_dict written by the same optimizer class."""
        state_dict = dict(state_dict)
        kind = state_dict.pop("kind", None)
        if kind != type(self).__name__:
            raise ValueError(
                f"this state_dict was written by {kind or 'another optimizer'}, not "
                f"{type(self).__name__}: resume with the optimizer that wrote it, or load "
                "only the model weights"
            )
        base_state = state_dict.pop("base_optimizer")
        counters = state_dict.pop("counters")
        extra = self._pop_extra_state(state_dict)
        super().load_state_dict(state_dict)
        self.base_optimizer.load_state_dict(base_state)
        self.param_groups = self.base_optimizer.param_groups
        self.counters = dict(counters)
        self._load_extra_state(extra)

    def _pop_extra_state(self, state_dict: dict[str, Any]) -> Any:
        """Subclass hook: remove and return the subclass's own entries."""
        return None

    def _load_extra_state(self, extra: Any) -> None:
        """Subclass hook: restore what ``_pop_extra_state`` returned."""


def _grads_of(groups: GroupParams) -> list[list[Tensor]]:
    return [[p.grad for p in params] for _, params in groups]


def _device_of(groups: GroupParams) -> torch.device:
    return groups[0][1][0].device if groups else torch.device("cpu")
