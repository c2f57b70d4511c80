"""The optimizer steps a run took and skipped, counted from numbers already on the host.

- A two-pass optimizer (SAM, ARSAM, ...) counts its own steps, SAM steps, passes and skipped
  steps (``counters``, saved in its checkpoints, so the counts cover the whole run).
- A plain optimizer under a GradScaler (MMEngine's AmpOptimWrapper) has a step skipped when
  its gradients overflowed: ``GradScaler.step`` reads that on the host itself and then does
  not call ``optimizer.step``, so a step post-hook counts the steps taken, and the wrapper's
  ``should_update()`` the steps tried (gradient accumulation tries every k-th iteration).
  These counts start with the process.
- A plain optimizer without a scaler takes every step it tries.

Nothing here reads a device value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StepCounts:
    """Optimizer steps taken and skipped; SAM steps and passes where the optimizer has them."""

    taken: int
    skipped: int
    sam: int | None = None
    passes: int | None = None

    @property
    def tried(self) -> int:
        """Steps taken or skipped."""
        return self.taken + self.skipped

    def summary(self) -> str:
        """One line: ``steps: 88 taken, 0 skipped, 22 SAM steps (1.25 passes per step)``."""
        line = f"steps: {self.taken} taken, {self.skipped} skipped"
        if self.sam is None or self.passes is None:
            return line + " (one forward-backward pass per step)"
        per_step = self.passes / self.tried if self.tried else 0.0
        return line + f", {self.sam} SAM steps ({per_step:.2f} passes per step)"


def two_pass_counts(optimizer: Any) -> StepCounts | None:
    """The counts a two-pass optimizer keeps itself; None for any other optimizer."""
    counters = getattr(optimizer, "counters", None)
    if not isinstance(counters, dict) or "skipped_steps" not in counters:
        return None
    return StepCounts(
        taken=counters["steps"],
        skipped=counters["skipped_steps"],
        sam=counters.get("sam_steps"),
        passes=counters.get("grad_evals"),
    )


class StepCounter:
    """Counts the steps taken and skipped through one optim wrapper, and the latest run of skips.

    Call ``before_iteration()`` and ``after_iteration()`` around every training iteration.
    """

    def __init__(self, wrapper: Any) -> None:
        self.wrapper = wrapper
        self.optimizer = getattr(wrapper, "optimizer", None)
        self.consecutive_skips = 0
        self._taken = self._skipped = self._steps_seen = 0
        self._before: StepCounts | None = None
        self._scaled = (
            two_pass_counts(self.optimizer) is None
            and getattr(wrapper, "loss_scaler", None) is not None
            and hasattr(self.optimizer, "register_step_post_hook")
        )
        self._handle = (
            self.optimizer.register_step_post_hook(self._count_step) if self._scaled else None
        )

    @property
    def active(self) -> bool:
        """Whether this wrapper's steps can be counted (not so for several optimizers at once)."""
        return self.optimizer is not None and hasattr(self.wrapper, "should_update")

    def counts(self) -> StepCounts:
        """The steps taken and skipped so far."""
        return two_pass_counts(self.optimizer) or StepCounts(self._taken, self._skipped)

    def before_iteration(self) -> None:
        """Remember the counts before a training iteration."""
        self._before = self.counts()
        self._steps_seen = 0

    def after_iteration(self) -> None:
        """Count the step the iteration tried, if any, and extend or end the run of skips."""
        if two_pass_counts(self.optimizer) is None and self.wrapper.should_update():
            if self._scaled and self._steps_seen == 0:
                self._skipped += 1
            else:
                self._taken += 1
        before, now = self._before, self.counts()
        if before is None:
            return
        if now.skipped == before.skipped + 1 and now.taken == before.taken:
            self.consecutive_skips += 1
        elif now.taken > before.taken and now.skipped == before.skipped:
            self.consecutive_skips = 0
        # otherwise no step was tried (accumulation) or a resumed state was loaded: unchanged

    def close(self) -> None:
        """Stop watching the optimizer's steps (the counts stay readable)."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def _count_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self._steps_seen += 1


def run_step_counts(runner: Any) -> StepCounts | None:
    """A trained Runner's step counts: its optimizer's own, else NonFiniteCheckHook's (or None)."""
    counts = two_pass_counts(getattr(runner.optim_wrapper, "optimizer", None))
    if counts is not None:
        return counts
    for hook in runner.hooks:
        steps = getattr(hook, "steps", None)
        if isinstance(steps, StepCounter) and steps.active:
            return steps.counts()
    return None
