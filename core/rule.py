"""The per-method part of a two-pass optimizer: which steps are SAM steps, and what the others do.

``TwoPassOptimizer`` (core/two_pass.py) runs one step skeleton for every method.
A method is a ``StepRule`` the skeleton composes. The skeleton asks it:

- ``sam_step_ahead(step)``: is the coming step a SAM step? Decided before the first
  pass, on the host, without changing state. A rule that needs the first pass's
  gradient instead sets ``decides_after_first_pass`` and answers
  ``sam_step_from_gradient(grads, scale)``.
- ``on_sam_gradient(...)``: after the second pass (``.grad`` holds unscaled g_sam,
  ``first_grads`` the first pass's g); what the rule records. False skips the step.
- ``on_one_pass_gradient(param_groups)``: before a one-pass update (``.grad`` holds
  unscaled g); it may turn g into the update direction (ARSAM's g + c PSF).
- ``commit(sam)``: advance past a completed step (a skipped step never commits).
- ``host_reads_ahead()``: how many device values the coming step reads on the host by
  design (not counting the opt-in non-finite checks). Tests hold every rule to it.
- ``planned_steps()``: the run length its decisions are planned over, if any; the
  optimizer warns once when a step goes past it. A rule that cannot decide without it
  sets ``needs_total_steps`` and takes it in ``set_total_steps(T)``: the optimizer
  passes it on (``TwoPassOptimizer.set_total_steps``) and refuses to step until then.

The step count is the optimizer's alone: ``counters["steps"]``, the completed steps
(a skipped step and a step without gradients do not count). ``sam_step_ahead`` is
given it; every other method reads it as ``self.steps`` (attached with ``attach``,
already counting the step being committed inside ``commit``); a rule does not count
or save steps itself. A "step" that earlier versions saved in a rule's state must equal
the optimizer's saved count on load (``check_state_dict``) and is otherwise ignored.

A rule keeps its hyperparameters in ``settings()``; they travel in the optimizer's
state_dict and a resume with different settings is refused (``check_settings``).
Per-parameter buffers (PSF, LookSAM's direction) live in the optimizer's ``state``
so that they are saved, moved and mapped to parameters like any optimizer state.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .gradients import GroupParams


class StepRule:
    """A method's decisions and bookkeeping around the shared two-pass step (SAM: always SAM)."""

    name = "SAM"
    decides_after_first_pass = False
    # True: no step runs before ``planned_steps()`` is known (``set_total_steps``)
    needs_total_steps = False

    def __init__(self) -> None:
        self.state: dict[Tensor, dict[str, Any]] = {}
        self._counters: dict[str, int] = {"steps": 0}

    def attach(
        self, state: dict[Tensor, dict[str, Any]], counters: dict[str, int] | None = None
    ) -> None:
        """Use the optimizer's per-parameter ``state`` and its step ``counters`` (read only)."""
        self.state = state
        if counters is not None:
            self._counters = counters

    @property
    def steps(self) -> int:
        """The optimizer's completed steps (within ``commit``: this one included)."""
        return self._counters["steps"]

    # ------------------------------------------------------------- decisions
    def sam_step_ahead(self, step: int) -> bool:
        """Whether step ``step`` (completed steps so far) is a SAM step; no state changes."""
        return True

    def sam_step_from_gradient(self, grads: list[Tensor], scale: Tensor | None) -> bool | None:
        """After pass 1 (``grads``: g, times ``scale`` under a GradScaler); None: not finite."""
        raise TypeError(f"{type(self).__name__} decides before the first pass")

    def host_reads_ahead(self) -> int:
        """Device values the coming step reads on the host by design."""
        return 0

    def planned_steps(self) -> int | None:
        """The run length the decisions are planned over (``total_steps``); None: no plan."""
        return None

    def set_total_steps(self, total_steps: int) -> None:
        """Take T, the run's length in steps (a rule with ``needs_total_steps``)."""
        raise TypeError(f"{type(self).__name__} plans no run length")

    # ------------------------------------------------------------ gradients
    def on_sam_gradient(
        self,
        groups: GroupParams,
        first_grads: list[list[Tensor]],
        inverse_scale: float | Tensor,
        checked: bool,
    ) -> bool:
        """After the second pass; record what the method needs. False skips the step."""
        return True

    def on_one_pass_gradient(self, param_groups: list[dict[str, Any]]) -> None:
        """Before a one-pass update; may change ``.grad`` into the update direction."""

    def commit(self, sam: bool) -> None:
        """Advance past a completed step."""

    # ------------------------------------------------------ reporting, state
    def stats(self) -> dict[str, float]:
        """Host numbers for loggers (no device reads)."""
        return {}

    def settings(self) -> dict[str, Any]:
        """Every hyperparameter of the rule, as plain Python values."""
        return {}

    def saved_settings(self, saved: dict[str, Any]) -> dict[str, Any]:
        """A checkpoint's settings, with what older versions did not save filled in as it was."""
        return saved

    def resume_hint(self, saved: dict[str, Any]) -> str:
        """The arguments that build an optimizer resuming ``saved`` settings ('': no hint)."""
        return ""

    def state_dict(self) -> dict[str, Any]:
        """The rule's own progress (its parameter buffers are in the optimizer's state)."""
        return {}

    def load_state_dict(self, state: dict[str, Any], device: torch.device | None) -> None:
        """Restore what ``state_dict`` returned."""


def differing_settings(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The names of the settings whose saved value differs from the current one."""
    names = sorted(set(saved) | set(current))
    return [n for n in names if _normalise(saved.get(n)) != _normalise(current.get(n))]


def check_settings(
    owner: str, saved: dict[str, Any], current: dict[str, Any], hint: str = ""
) -> None:
    """Raise ValueError naming every setting whose saved value differs from the current one."""
    differing = differing_settings(saved, current)
    if not differing:
        return
    listed = "; ".join(
        f"{n}: checkpoint {saved.get(n)!r}, this optimizer {current.get(n)!r}" for n in differing
    )
    raise ValueError(
        f"the checkpoint's {owner} was built with other settings ({listed}). A resumed run "
        "must continue the schedule it started: construct the optimizer with the checkpoint's "
        f"settings{f' ({hint})' if hint else ''}, or load only the model weights (MMEngine: "
        "load_from=...) and start a new optimizer state."
    )


def _normalise(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_normalise(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
