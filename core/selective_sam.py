"""SAM on the steps a rule selects, one forward-backward pass on the others.

The peers of ARSAM (SAM-k, LookSAM, AE-SAM, RST) share this skeleton. Step t:

    g = grad L(w)                           first pass, every step
    SAM step:    g_sam = grad L(w + e)      second pass, exactly as in core/sam.py
                 base optimizer steps with g_sam
    other step:  base optimizer steps with d(g)
                 d(g) = g, or the method's cheap stand-in for g_sam (LookSAM)

A rule says which kind step t is, before the first pass (``_sam_step_ahead``)
or from the first pass's gradient (AE-SAM overrides ``step``). Only completed
steps advance the rule (``_commit``): a step skipped for non-finite gradients
leaves the rule's state as it was, and the retried step is decided the same way.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .arguments import require_closure
from .multi_tensor import is_finite
from .sam import SAM, Closure, GroupParams, _grads_of


def linear_schedule(start: float, end: float, step: int, total_steps: int) -> float:
    """start + (end - start) * min(step / total_steps, 1)."""
    return start + (end - start) * min(step / total_steps, 1.0)


class SelectiveSAM(SAM):
    """SAM where the rule selects a step, one pass and a base-optimizer step on g elsewhere.

    Subclasses implement ``_sam_step_ahead`` and may override the hooks
    ``_on_sam_gradient``, ``_on_plain_gradient`` and ``_commit``.
    """

    @torch.no_grad()
    def step(self, closure: Closure | None = None, grad_scaler: Any = None) -> Any:
        """Two passes on a SAM step, one otherwise; returns the first pass's loss."""
        closure = require_closure(closure, type(self).__name__)
        sam_step = self._sam_step_ahead()
        loss = self._evaluate(closure)
        if sam_step:
            return self._finish_sam_step(closure, loss, grad_scaler)
        return self._finish_plain_step(loss, grad_scaler)

    def _sam_step_ahead(self) -> bool:
        """Whether the coming step is a SAM step (no state changes)."""
        raise TypeError(f"{type(self).__name__} must define _sam_step_ahead or override step()")

    def _checked(self, grad_scaler: Any) -> bool:
        """Whether this step checks its gradients for inf/NaN."""
        return self.skip_nonfinite or grad_scaler is not None

    # ------------------------------------------- the two kinds of step, after pass 1
    def _finish_sam_step(self, closure: Closure, loss: Any, grad_scaler: Any) -> Any:
        """Perturb along the first pass's gradient, run the second pass, step with g_sam."""
        checked = self._checked(grad_scaler)
        groups = self._groups_with_grads()
        first_grads = _grads_of(groups)
        norm = self._perturbation_norm(groups, first_grads)
        if checked and not is_finite(norm):
            return self._skip_step(loss, grad_scaler, unscaled=False)
        self._second_pass(closure, groups, first_grads, norm, exact=checked)
        if not (
            self._unscale_and_check(grad_scaler, checked)
            and self._on_sam_gradient(groups, first_grads, grad_scaler)
        ):
            return self._skip_step(loss, grad_scaler, unscaled=True)
        self._apply_update()
        self._complete(sam=True)
        return loss

    def _finish_plain_step(self, loss: Any, grad_scaler: Any) -> Any:
        """Step with the first pass's gradient (or the method's stand-in for g_sam)."""
        if not self._unscale_and_check(grad_scaler, self._checked(grad_scaler)):
            return self._skip_step(loss, grad_scaler, unscaled=True)
        self._on_plain_gradient()
        self._apply_update()
        self._complete(sam=False)
        return loss

    def _complete(self, sam: bool) -> None:
        """Count a completed step and advance the rule."""
        self._count_step(sam=sam)
        self._commit(sam)

    # ------------------------------------------------------------------ hooks
    def _on_sam_gradient(
        self, groups: GroupParams, first_grads: list[list[Tensor]], grad_scaler: Any
    ) -> bool:
        """After the second pass (.grad: unscaled g_sam; first_grads: g); False skips the step."""
        return True

    def _on_plain_gradient(self) -> None:
        """Before a one-pass update (.grad: unscaled g); may turn g into the update direction."""

    def _commit(self, sam: bool) -> None:
        """Advance the rule's state past a completed step."""
