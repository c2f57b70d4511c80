"""One SAM step for every two-pass method: the skeleton that SAM, ARSAM and the peers share.

Step t, on one minibatch (a ``StepRule``, core/rule.py, supplies the decisions):

    pass 1      g = grad L(w)                              every step
    decide      SAM step or not (before pass 1, or from g)
    SAM step    e = rho g / (||g|| + eps); w := w + e      first_step
                pass 2 at w + e, statistics frozen: g_sam
                w := w - e; rule records (PSF := g_sam - g)  second_step
                base optimizer steps with g_sam
    otherwise   rule turns g into the update direction (g + c PSF), base optimizer steps

``step(closure)`` runs all of it. Loops that run backward themselves use the two
calls directly::

    loss_fn(model(x), y).backward()
    if opt.first_step():                 # True: the weights are perturbed, run pass 2
        loss_fn(model(x), y).backward()
        opt.second_step()                # restore the weights and update
    # False: first_step already made the one-pass update

Non-finite steps (``skip_nonfinite=True``, or always with a GradScaler) are skipped
before anything changes: weights, base state, the rule's state and buffers stay as
they were, and the retried step is decided the same way. The statistics of the
models given to ``freeze_statistics_of`` (BatchNorm's running mean and variance...)
are put back too (``SkippedStepStatistics``, core/frozen_stats.py, copies them before
the first pass and decides when to restore or drop the copy).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn

from .arguments import (
    check_base_optimizer,
    check_grad_norm_type,
    check_max_grad_norm,
    check_number,
    require_closure,
    require_run_length,
    run_length_changes,
)
from .frozen_stats import SkippedStepStatistics
from .gradients import (
    GroupParams,
    all_grads,
    grads_of,
    groups_with_grads,
    perturbation,
    perturbation_norm,
)
from .multi_tensor import copy_tensors, is_finite, l2_norm
from .parameter_checks import (
    check_base_keywords,
    check_dense_gradients,
    check_real_parameters,
    has_gradients,
)
from .rule import StepRule, check_settings
from .saved_state import other_base_optimizer

Closure = Callable[[], Any]
STATE_FORMAT = 2
_OWN_GROUP_KEYS = ("rho", "adaptive", "perturb")


@dataclass
class _PendingSAMStep:
    """What first_step leaves for second_step: g, ||g||, how to undo e, the frozen statistics."""

    groups: GroupParams
    first_grads: list[list[Tensor]]
    checked: bool
    grad_scaler: Any
    undo: list[Callable[[], None]] = field(default_factory=list)
    frozen: ExitStack = field(default_factory=ExitStack)

    def restore(self) -> None:
        """Move the weights back to w and let statistics update again."""
        try:
            for undo in self.undo:
                undo()
        finally:
            self.frozen.close()


class TwoPassOptimizer(torch.optim.Optimizer):
    """A base optimizer plus SAM's second pass on the steps a ``StepRule`` selects.

    Args:
        params: parameters or parameter groups. Groups may override ``rho``,
            ``adaptive`` and ``perturb`` (``perturb=False``: the group is not
            moved by the perturbation, its gradient is still used).
        base_optimizer: a torch.optim.Optimizer class; ``base_kwargs`` go to it.
        rule: the method's decisions (core/rule.py); ``StepRule()`` is SAM.
        rho: radius of the perturbation, >= 0.
        adaptive: ASAM's scale-invariant perturbation.
        eps: added to the gradient norm before dividing by it.
        max_grad_norm: clip the gradient the base optimizer uses (the final,
            mixed gradient) to this global norm; None: no clipping.
        skip_nonfinite: check gradients for inf/NaN (one host read per pass)
            and skip the step, leaving all state untouched (the statistics of
            the models given to ``freeze_statistics_of`` too), when they are not
            finite. Always on when a GradScaler is passed.
    """

    # torch.amp.GradScaler.step(opt, ...) then passes itself as grad_scaler= instead of
    # unscaling first: a two-pass step unscales once, after the pass it updates with.
    _step_supports_amp_scaling = True

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        base_optimizer: type[torch.optim.Optimizer],
        rule: StepRule,
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
        check_max_grad_norm(max_grad_norm)
        check_grad_norm_type(grad_norm_type)
        super().__init__(params, dict(rho=rho, adaptive=bool(adaptive), perturb=True))
        check_base_keywords(type(self), base_optimizer, base_kwargs)
        self.base_optimizer = base_optimizer(self.param_groups, **base_kwargs)
        self.param_groups = self.base_optimizer.param_groups
        self.defaults.update(self.base_optimizer.defaults)
        self.eps = eps
        self.max_grad_norm = max_grad_norm
        self.grad_norm_type = grad_norm_type
        self.skip_nonfinite = skip_nonfinite
        # counters["steps"], the completed steps, is the one step count: the rule reads it
        self.counters = {"steps": 0, "sam_steps": 0, "grad_evals": 0, "skipped_steps": 0}
        self.rule = rule
        rule.attach(self.state, self.counters)
        self._statistics = SkippedStepStatistics()
        self._expects_scaler = False
        self._pending: _PendingSAMStep | None = None
        self._gradients_checked = False
        self._warned_past_end = False

    @property
    def max_grad_norm(self) -> float | None:
        """The global norm the final gradient is clipped to; None: no clipping."""
        return self._max_grad_norm

    @max_grad_norm.setter
    def max_grad_norm(self, value: float | None) -> None:
        check_max_grad_norm(value)
        self._max_grad_norm = value

    @property
    def grad_norm_type(self) -> float:
        """The p of the p-norm that clipping measures (inf: the largest absolute entry)."""
        return self._grad_norm_type

    @grad_norm_type.setter
    def grad_norm_type(self, value: float) -> None:
        check_grad_norm_type(value)
        self._grad_norm_type = value

    # ----------------------------------------------------------------- set-up
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group to this optimizer and to the base optimizer."""
        for key in _OWN_GROUP_KEYS:
            param_group.setdefault(key, self.defaults[key])
        params = param_group["params"]
        if not isinstance(params, (Tensor, set)):
            param_group["params"] = params = list(params)
        check_real_parameters(
            [params] if isinstance(params, Tensor) else params, len(self.param_groups)
        )
        check_number("rho", param_group["rho"], low=0.0)
        if hasattr(self, "base_optimizer"):
            self.base_optimizer.add_param_group(param_group)
        else:
            super().add_param_group(param_group)

    def freeze_statistics_of(self, model: nn.Module) -> None:
        """Freeze ``model``'s statistics-collecting modules (BatchNorm...) during second passes.

        With non-finite checks on, a skipped step also leaves their statistics as they were.
        """
        self._statistics.add(model, self._checks_expected())

    def expect_grad_scaler(self) -> None:
        """Announce GradScaler steps before the first one, so that its statistics are kept too.

        Only loops that run the first pass before calling the optimizer need it (the
        two-call API, SAMOptimWrapper with float16); ``step(closure, grad_scaler=)`` knows.
        """
        self._expects_scaler = True
        self._statistics.watch(self._checks_expected())

    def host_reads_ahead(self) -> int:
        """Device values the coming step reads on the host by design (non-finite checks aside)."""
        return self.rule.host_reads_ahead()

    def before_forward(self) -> None:
        """Place the weights for the coming step's first forward pass (MomentumSAM moves them).

        Two-call loops call it before the forward; ``step(closure)`` does it itself. Every
        method that perturbs after the first pass leaves the weights where they are.
        """

    def set_total_steps(self, total_steps: int) -> None:
        """Give the run's length T before the first step; methods that plan none ignore it."""
        if self.rule.needs_total_steps and run_length_changes(
            self.counters["steps"], self.rule.planned_steps(), total_steps
        ):
            self.rule.set_total_steps(total_steps)

    def _require_run_length(self) -> None:
        if self.rule.needs_total_steps and self.rule.planned_steps() is None:
            require_run_length(type(self).__name__, None)

    # ------------------------------------------------------------------- step
    # The step stays eager when a caller is compiled (docs/CONTRACTS.md, "Compiled models").
    @torch.compiler.disable
    @torch.no_grad()
    def step(
        self,
        closure: Closure | None = None,
        grad_scaler: Any = None,
        *,
        second_pass: Closure | None = None,
    ) -> Any:
        """Run ``closure`` once or twice and update the weights; returns the first pass's loss.

        With fp16 and a ``torch.amp.GradScaler``, the closure backpropagates
        ``scaler.scale(loss)`` and the call is ``opt.step(closure,
        grad_scaler=scaler)`` followed by ``scaler.update()``. ``second_pass`` runs
        the second pass instead of ``closure``; given alone, the caller has already
        run the first pass (its gradient is in ``.grad``), as after
        ``scaler.step(opt, second_pass=...)`` or Lightning's precision plugins
        (docs/recipes.md).
        """
        if grad_scaler is None and getattr(self, "grad_scale", None) is not None:
            # A GradScaler that registers grad_scale/found_inf instead of passing itself:
            # the gradients are still scaled, and updating from them would be silently wrong.
            raise RuntimeError(
                f"{type(self).__name__}.step() was called by a GradScaler that did not pass "
                "grad_scaler=: this torch version's GradScaler is not supported; call "
                "opt.step(closure, grad_scaler=scaler) yourself (docs/recipes.md)"
            )
        rerun = _closure_for_second_pass(closure, second_pass, type(self).__name__)
        self._require_run_length()
        loss = None
        checked = self.skip_nonfinite or grad_scaler is not None
        with self._statistics.around_step(closure is not None and checked, self._checks_expected):
            if closure is not None:
                with torch.enable_grad():
                    loss = closure()
            if self.first_step(grad_scaler=grad_scaler):
                try:
                    with torch.enable_grad():
                        rerun()
                except BaseException:
                    self._abandon_sam_step()
                    raise
                self.second_step()
        return loss

    @torch.compiler.disable
    @torch.no_grad()
    def first_step(self, zero_grad: bool = False, grad_scaler: Any = None) -> bool:
        """After pass 1: perturb for a SAM step (True), or make the one-pass update (False).

        On True the weights sit at w + e, statistics are frozen and ``.grad`` is
        cleared (g is kept for second_step): run the forward-backward pass again and
        call ``second_step()``. ``zero_grad`` clears the gradients after a one-pass
        update.
        """
        if self._pending is not None:
            raise RuntimeError(
                f"{type(self).__name__}.first_step() returned True before and second_step() "
                "was not called: after a True first_step, run the second forward-backward pass "
                "and call second_step()"
            )
        self._require_run_length()
        self.counters["grad_evals"] += 1
        if not has_gradients(self.param_groups):
            # like torch's optimizers: a step without any gradient changes nothing
            self._settle_statistics(skipped=False)
            return False
        if not self._gradients_checked:
            check_dense_gradients(self.param_groups)
            self._gradients_checked = True
        if not self._warned_past_end:
            self._warn_past_planned_end()
        self._expects_scaler |= grad_scaler is not None
        checked = self.skip_nonfinite or grad_scaler is not None
        sam = self._decide(grad_scaler)
        if sam is None:
            return self._skip(grad_scaler, unscaled=False)
        if sam:
            return self._perturb(checked, grad_scaler)
        if not self._unscale_and_check(grad_scaler, checked):
            return self._skip(grad_scaler, unscaled=True)
        self.rule.on_one_pass_gradient(self.param_groups)
        self._update(sam=False)
        if zero_grad:
            self.zero_grad()
        return False

    @torch.compiler.disable
    @torch.no_grad()
    def second_step(self, zero_grad: bool = False) -> None:
        """After pass 2 at w + e: restore w, let the rule record g_sam, update with g_sam."""
        pending = self._pending
        if pending is None:
            raise RuntimeError(
                f"{type(self).__name__}.second_step() needs a first_step() that returned True "
                "(a SAM step) just before it"
            )
        self._pending = None
        self.counters["grad_evals"] += 1
        pending.restore()
        scaler = pending.grad_scaler
        if not self._unscale_and_check(scaler, pending.checked) or not self.rule.on_sam_gradient(
            pending.groups, pending.first_grads, _inverse_scale(scaler), pending.checked
        ):
            self._skip(scaler, unscaled=True)
        else:
            self._update(sam=True)
        if zero_grad:
            self.zero_grad()

    # ------------------------------------------------- pieces of the step
    def _warn_past_planned_end(self) -> None:
        """Warn once when the coming step lies past the run length the rule planned for."""
        planned = self.rule.planned_steps()
        step = self.counters["steps"]
        if planned is None or step < planned:
            return
        self._warned_past_end = True
        name = type(self).__name__
        warnings.warn(
            f"{name} is taking step {step + 1} of a run planned for total_steps={planned}: its "
            f"{self.rule.name} schedule ended at step {planned}, and every further step keeps "
            "the schedule's final setting (ARSAM's horizon schedule takes no more SAM steps). "
            f"Give {name} the run's real length: total_steps=T (len(loader) * epochs) when "
            "building it, or set_total_steps(T) before the first step.",
            UserWarning,
            stacklevel=_caller_outside_the_library(),
        )

    def _decide(self, grad_scaler: Any) -> bool | None:
        """The rule's decision for this step; None when its gradient test found inf/NaN."""
        if not self.rule.decides_after_first_pass:
            return self.rule.sam_step_ahead(self.counters["steps"])
        scale = _scale_tensor(grad_scaler)
        sam = self.rule.sam_step_from_gradient(all_grads(self.param_groups), scale)
        if sam is None and not (self.skip_nonfinite or grad_scaler is not None):
            return False
        return sam

    def _perturb(self, checked: bool, grad_scaler: Any) -> bool:
        """w := w + e along the first pass's gradient; freeze statistics; hand .grad over."""
        groups = groups_with_grads(self.param_groups)
        first_grads = grads_of(groups)
        norm = perturbation_norm(groups, first_grads)
        if checked and not is_finite(norm):
            return self._skip(grad_scaler, unscaled=False)
        pending = _PendingSAMStep(groups, first_grads, checked, grad_scaler)
        for (group, params), grads in zip(groups, first_grads, strict=True):
            if not group["perturb"] or group["rho"] == 0:
                continue
            e = perturbation(group, params, grads, norm, self.eps)
            pending.undo.append(self._undo_for(group, params, grads, norm, e, exact=checked))
            torch._foreach_add_(params, e)
            del e
        return self._await_second_pass(groups, pending)

    def _await_second_pass(self, groups: list, pending: Any) -> bool:
        """Clear the first pass's gradients, freeze the statistics and hold the pending step."""
        for _, params in groups:
            for p in params:
                p.grad = None
        for frozen in self._statistics.frozen:
            pending.frozen.enter_context(frozen())
        self._pending = pending
        return True

    def _undo_for(
        self,
        group: dict[str, Any],
        params: list[Tensor],
        grads: list[Tensor],
        norm: Tensor,
        e: list[Tensor],
        exact: bool,
    ) -> Callable[[], None]:
        """How to move ``params`` back from w + e to w.

        ``exact`` (non-finite checks on): restore a copy, bit for bit, so that a skipped
        step leaves the weights as they were. Otherwise subtract e again, recomputed
        from g (kept alive for the second pass anyway): no copy of the weights, and w
        comes back within rounding. ASAM's e depends on w, so it is kept instead.
        """
        if exact:
            copies = [torch.empty_like(p) for p in params]
            copy_tensors(copies, params)
            return partial(copy_tensors, params, copies)
        if group["adaptive"]:
            return partial(torch._foreach_sub_, params, e)
        return partial(_subtract_perturbation, group, params, grads, norm, self.eps)

    def _abandon_sam_step(self) -> None:
        """The second pass raised: put the weights and statistics back, count nothing."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.restore()
        self._settle_statistics(skipped=False)

    def _unscale_and_check(self, grad_scaler: Any, checked: bool) -> bool:
        """Unscale the final gradients (GradScaler) and tell whether the step may proceed."""
        if grad_scaler is not None:
            grad_scaler.unscale_(self)
        if not checked:
            return True
        # note: this is a CPU-GPU sync point (opt-in: skip_nonfinite or a GradScaler)
        return is_finite(l2_norm(all_grads(self.param_groups)))

    def _skip(self, grad_scaler: Any, unscaled: bool) -> bool:
        """Leave weights and state as they were; let the GradScaler see the overflow."""
        if grad_scaler is not None and not unscaled:
            grad_scaler.unscale_(self)
        self._settle_statistics(skipped=True)
        self.counters["skipped_steps"] += 1
        return False

    def _update(self, sam: bool) -> None:
        """Clip the final gradient if asked, let the base optimizer step, advance the rule."""
        if self.max_grad_norm is not None:
            params = [
                p for group in self.param_groups for p in group["params"] if p.grad is not None
            ]
            torch.nn.utils.clip_grad_norm_(
                params, self.max_grad_norm, norm_type=self.grad_norm_type, foreach=True
            )
        self.base_optimizer.step()
        self._settle_statistics(skipped=False)
        self.counters["steps"] += 1  # the one step count (a skipped step never gets here)
        self.counters["sam_steps"] += int(sam)
        self.rule.commit(sam)

    # ------------------------------------------------ statistics of skipped steps
    def _checks_expected(self) -> bool:
        """Whether steps check for inf/NaN, so that the statistics are copied before them."""
        return self.skip_nonfinite or self._expects_scaler

    def _settle_statistics(self, skipped: bool) -> None:
        """The step is over: put the statistics back if it was skipped, else drop the copy."""
        self._statistics.settle(skipped, self._checks_expected())

    # ------------------------------------------------------------- reporting
    @property
    def stats(self) -> dict[str, float]:
        """Host numbers for loggers: counters, sam_fraction, rho and the rule's own figures."""
        counters: dict[str, float] = dict(self.counters)
        steps = counters["steps"]
        counters["sam_fraction"] = counters["sam_steps"] / steps if steps else 0.0
        counters["rho"] = float(self.param_groups[0]["rho"]) if self.param_groups else 0.0
        counters.update(self.rule.stats())
        return counters

    # ------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: own and base state, counters, the rule and its settings."""
        state = super().state_dict()
        state["base_optimizer"] = self.base_optimizer.state_dict()
        state["counters"] = dict(self.counters)
        state["kind"] = type(self).__name__
        state["base"] = type(self.base_optimizer).__name__
        state["format"] = STATE_FORMAT
        state["rule"] = {
            "name": self.rule.name,
            "settings": self.rule.settings(),
            "state": self.rule.state_dict(),
        }
        return state

    def check_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Raise ValueError unless this optimizer, base and rule settings wrote it."""
        kind = state_dict.get("kind")
        if kind != type(self).__name__:
            writer = kind or "a plain torch optimizer (its state holds no two-pass record)"
            raise ValueError(
                f"this state_dict was written by {writer}, not {type(self).__name__}: resume "
                "with the optimizer that wrote it, or load only the model weights (MMEngine: "
                "load_from=...) and start a new optimizer state"
            )
        if state_dict.get("format") != STATE_FORMAT or "rule" not in state_dict:
            raise ValueError(
                f"this {kind} state_dict was written by an earlier version of the project, "
                "whose schedule settings were not saved, so the schedule cannot be continued "
                "safely. Load only the model weights (MMEngine: load_from=...; plain PyTorch: "
                "model.load_state_dict(...)) and start a new optimizer state."
            )
        base = self.base_optimizer
        known = {name for group in base.param_groups for name in group}
        other_base = other_base_optimizer(state_dict, type(base), known)
        if other_base:
            raise ValueError(
                f"this {kind} state_dict was written around {other_base}, this {kind} is built "
                f"around {type(self.base_optimizer).__name__}, whose state it cannot continue: "
                "resume with the base optimizer that wrote it, or load only the model weights "
                "(MMEngine: load_from=...) and start a new optimizer state"
            )
        rule = state_dict["rule"]
        if rule["name"] != self.rule.name:
            raise ValueError(
                f"the checkpoint's {kind} used the {rule['name']!r} schedule, this one "
                f"{self.rule.name!r}: resume with the same schedule"
            )
        saved = self.rule.saved_settings(rule["settings"])
        check_settings(
            f"{kind} ({rule['name']})", saved, self.rule.settings(), self.rule.resume_hint(saved)
        )
        _check_rule_step(kind, rule, state_dict.get("counters") or {})

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state_dict written by the same optimizer with the same rule settings."""
        self.check_state_dict(state_dict)
        state_dict = {k: v for k, v in state_dict.items() if k not in ("kind", "base", "format")}
        rule = state_dict.pop("rule")
        base_state = state_dict.pop("base_optimizer")
        counters = state_dict.pop("counters")
        super().load_state_dict(state_dict)
        self.base_optimizer.load_state_dict(base_state)
        self.param_groups = self.base_optimizer.param_groups
        self.counters = dict(counters)
        self.rule.attach(self.state, self.counters)
        device = next((p.device for g in self.param_groups for p in g["params"]), None)
        self.rule.load_state_dict(rule["state"], device)


def _check_rule_step(kind: str, rule: dict[str, Any], counters: dict[str, Any]) -> None:
    """Refuse a rule state whose own step count (earlier versions saved one) is not the optimizer's.

    The optimizer's ``counters["steps"]`` is the one step count; a rule's saved "step"
    is otherwise ignored.
    """
    saved_step, steps = (rule.get("state") or {}).get("step"), counters.get("steps")
    if saved_step is None or steps is None or int(saved_step) == int(steps):
        return
    raise ValueError(
        f"this {kind} state_dict is inconsistent: its {rule['name']} rule counted "
        f"{int(saved_step)} completed steps, its optimizer {int(steps)}. The two counts of "
        "the checkpoint's writer always agree, so the state was edited or assembled from "
        "two checkpoints; resume from an unmodified checkpoint, or load only the model "
        "weights (MMEngine: load_from=...) and start a new optimizer state."
    )


def _closure_for_second_pass(
    closure: Closure | None, second_pass: Closure | None, owner: str
) -> Closure:
    """The callable ``step`` re-runs at w + e; a TypeError naming both forms if there is none."""
    try:
        if closure is not None or second_pass is None:
            require_closure(closure, owner)
        return require_closure(second_pass, owner) if second_pass is not None else closure
    except TypeError as error:
        raise TypeError(
            f"{error} A loop that has already run the first pass (its own backward, then "
            "scaler.step(opt) or Lightning's 16-mixed precision plugin) passes the rerun "
            "alone: opt.step(second_pass=closure); in a LightningModule, override "
            "optimizer_step to call optimizer.step(closure=optimizer_closure, "
            "second_pass=optimizer_closure) (docs/recipes.md)."
        ) from None


def _caller_outside_the_library() -> int:
    """warnings.warn's stacklevel that names the first caller outside core/ and torch."""
    inside = (os.path.dirname(os.path.abspath(__file__)), os.path.dirname(torch.__file__))
    level, frame = 1, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(inside):
        level, frame = level + 1, frame.f_back
    return level


def _subtract_perturbation(
    group: dict[str, Any], params: list[Tensor], grads: list[Tensor], norm: Tensor, eps: float
) -> None:
    """w := w - e with e = rho g / (||g|| + eps) computed exactly as when it was added."""
    torch._foreach_sub_(params, perturbation(group, params, grads, norm, eps))


def _scale_tensor(grad_scaler: Any) -> Tensor | None:
    """The GradScaler's current scale as a device tensor (no host read), or None."""
    if grad_scaler is None or not grad_scaler.is_enabled():
        return None
    scale = grad_scaler._get_scale_async()
    return torch.tensor(grad_scaler.get_scale()) if scale is None else scale


def _inverse_scale(grad_scaler: Any) -> float | Tensor:
    """1 / the GradScaler's current scale as a device tensor (no host read), or 1.0."""
    scale = _scale_tensor(grad_scaler)
    return 1.0 if scale is None else scale.double().reciprocal().float()
