"""ARSAM: SAM's gradient split into the SGD gradient plus a reusable second-order term (PSF).

One ARSAM step, as docs/method.md "One ARSAM step (both schedules)" states it; the skeleton that
runs the passes is core/two_pass.py, and this file's ``PSFReuse`` rule is the
whole of what ARSAM adds to it:

1. pass 1: g = grad L(w)                                   (every step)
2. the schedule says whether step t is a SAM step          ``sam_step_ahead(t)``
3. SAM step: pass 2 at w + e as in SAM, then               ``on_sam_gradient``
       PSF := g_sam - g                                    ``store_difference``
       record ||PSF||_S and ||g||_S for the quota           ``schedule.record``
       (horizon schedule: drop a share u = t/T of PSF's     ``remove_component_along``
        part along g: whole early, orthogonal late)
   the base optimizer steps with g_sam
4. reuse step (one pass): c from the schedule;             ``on_one_pass_gradient``
       g := g + c PSF while c > 0, plain g after           ``add_scaled``
       (horizon schedule: ||c PSF|| at most 0.7 ||g||        ``capped_coefficient``)
   the base optimizer steps with it
5. the schedule advances (at a window boundary the quota   ``commit``
   adapts and the next window's SAM steps are placed)

t is the optimizer's step count (``counters["steps"]``: completed steps, a skipped step not
counted), the only one: ``sam_step_ahead`` is given it, the rule's other methods read it as
``self.steps``, and they hand it to the schedule, which neither counts nor saves steps.

Two schedules decide steps 2, 4 and 5, one per optimizer class: ``ARSAMPaper`` runs
the paper's (core/arsam_schedule.py, docs/method.md) and ``ARSAM`` the horizon-aware
one (core/horizon_schedule.py, docs/method.md "`ARSAM`: the horizon-aware schedule"); both fit
``ARSAMSchedule``, the interface the rule reads. PSF is the only persistent
parameter-sized buffer; a SAM step also keeps g alive while its second pass runs
(and a copy of the weights when non-finite steps are checked).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import torch
from torch import Tensor

from .arsam_schedule import PaperSchedule
from .gradients import (
    GroupParams,
    add_scaled,
    remove_component_along,
    store_difference,
    with_first_grads,
)
from .horizon_schedule import DEFAULTS as HORIZON_DEFAULTS
from .horizon_schedule import HorizonSchedule
from .multi_tensor import l2_norm
from .rule import StepRule, differing_settings
from .two_pass import TwoPassOptimizer

# The paper schedule's arguments (their defaults: PaperSchedule's signature).
PAPER_ARGUMENTS = tuple(inspect.signature(PaperSchedule).parameters)


class ARSAMSchedule(Protocol):
    """What ``PSFReuse`` reads of a schedule: PaperSchedule and HorizonSchedule fit it."""

    name: str
    needs_total_steps: bool
    reuse_cap: float | None  # None: the reused term is not bounded

    def planned_steps(self) -> int | None:
        """T, the run length the schedule plans over; None: none (yet)."""
        ...

    def set_total_steps(self, total_steps: int) -> None:
        """Complete the schedule with T (only when ``needs_total_steps``)."""
        ...

    def is_sam_step(self, step: int) -> bool:
        """Whether step ``step`` (completed steps so far) is a SAM step (no state changes)."""
        ...

    def host_reads_ahead(self, step: int) -> int:
        """Device values step ``step`` reads on the host."""
        ...

    def record(self, psf_norm: Tensor, grad_norm: Tensor) -> None:
        """Store a SAM step's ||PSF||_S and ||g||_S on the device."""
        ...

    def along_share_removed(self, step: int) -> float:
        """Share of PSF's part along g that SAM step ``step`` drops."""
        ...

    def mixing_coefficient(self) -> float:
        """c for the coming step."""
        ...

    def commit(self, sam_step: bool, completed: int) -> None:
        """Advance past a step; ``completed`` steps are done, this one included."""
        ...

    def stats(self, step: int) -> dict[str, float]:
        """Host numbers for loggers, ``step`` steps completed."""
        ...

    def settings(self) -> dict[str, Any]:
        """Every hyperparameter."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """The schedule's progress."""
        ...

    def load_state_dict(self, state: dict[str, Any], device: torch.device | None = None) -> None:
        """Restore what ``state_dict`` returned."""
        ...


def capped_coefficient(
    coefficient: float, grads: list[Tensor], psf: list[Tensor], cap: float
) -> Tensor:
    """c min(1, cap ||g|| / ||c PSF||): the reused term at most ``cap`` times ||g||, on device."""
    grad_norm = l2_norm(grads)
    term_norm = l2_norm(psf) * abs(coefficient)
    tiny = torch.finfo(term_norm.dtype).tiny
    return coefficient * torch.clamp(cap * grad_norm / term_norm.clamp_min(tiny), max=1.0)


class PSFReuse(StepRule):
    """Measure PSF := g_sam - g on the schedule's SAM steps; mix g + c PSF into the others."""

    def __init__(self, name: str, schedule: ARSAMSchedule, stat_params: list[Tensor]):
        super().__init__()
        self.name = name
        self.schedule = schedule
        self.stat_params = stat_params
        self.needs_total_steps = schedule.needs_total_steps

    def sam_step_ahead(self, step: int) -> bool:
        """The schedule's decision for step ``step``."""
        return self.schedule.is_sam_step(step)

    def host_reads_ahead(self) -> int:
        """One read when the coming step completes a window."""
        return self.schedule.host_reads_ahead(self.steps)

    def planned_steps(self) -> int | None:
        """The horizon schedule's total_steps; the paper's schedule plans no length."""
        return self.schedule.planned_steps()

    def set_total_steps(self, total_steps: int) -> None:
        """Complete the horizon schedule with T, the run's length."""
        self.schedule.set_total_steps(total_steps)

    def on_sam_gradient(
        self,
        groups: GroupParams,
        first_grads: list[list[Tensor]],
        inverse_scale: float | Tensor,
        checked: bool,
    ) -> bool:
        """PSF := g_sam - g (unscaled units), ||PSF||_S and ||g||_S recorded; .grad keeps g_sam.

        The horizon schedule then drops the schedule's share of PSF's part along g (a
        multiple of this minibatch's own gradient): none at the start of training, all of it
        at the end (docs/method.md, "The reused part, in detail"). The paper's schedule keeps
        PSF whole.
        """
        params, g = with_first_grads(groups, first_grads)
        psf = [self._psf_buffer(p) for p in params]
        store_difference(psf, [p.grad for p in params], g, inverse_scale)
        first_grad_of = {id(p): grad for p, grad in zip(params, g, strict=True)}
        subset = [p for p in self.stat_params if id(p) in first_grad_of]
        if subset:
            psf_norm = l2_norm([self.state[p]["psf"] for p in subset])
            grad_norm = l2_norm([first_grad_of[id(p)] for p in subset]) * inverse_scale
            self.schedule.record(psf_norm, grad_norm)
        share = self.schedule.along_share_removed(self.steps)
        if share:
            remove_component_along(psf, g, share)
        return True

    def on_one_pass_gradient(self, param_groups: list[dict[str, Any]]) -> None:
        """Reuse step: g := g + c PSF while the schedule's c is non-zero, plain g after."""
        coefficient = self.schedule.mixing_coefficient()
        if not coefficient:
            return
        grads, psf = [], []
        for group in param_groups:
            for p in group["params"]:
                if p.grad is not None and "psf" in self.state.get(p, {}):
                    grads.append(p.grad)
                    psf.append(self.state[p]["psf"])
        if grads:
            if self.schedule.reuse_cap is not None:
                coefficient = capped_coefficient(coefficient, grads, psf, self.schedule.reuse_cap)
            add_scaled(grads, psf, coefficient)

    def commit(self, sam: bool) -> None:
        """Advance the schedule (and, at a window boundary, adapt the quota)."""
        self.schedule.commit(sam, self.steps)

    def _psf_buffer(self, param: Tensor) -> Tensor:
        state = self.state[param]
        if "psf" not in state:
            state["psf"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        return state["psf"]

    # ------------------------------------------------------ reporting, state
    def stats(self) -> dict[str, float]:
        """The schedule's quota, latest PSF ratio, reuse coefficient and window position."""
        return self.schedule.stats(self.steps)

    def settings(self) -> dict[str, Any]:
        """The schedule's name and hyperparameters, and the size of the statistics subset S."""
        return {
            "schedule": self.schedule.name,
            **self.schedule.settings(),
            "stat_params": len(self.stat_params),
        }

    def saved_settings(self, saved: dict[str, Any]) -> dict[str, Any]:
        """Horizon checkpoints written before ``reuse_component`` existed reused PSF whole."""
        if saved.get("schedule") == "horizon" and "reuse_component" not in saved:
            return {**saved, "reuse_component": "full"}
        return saved

    def resume_hint(self, saved: dict[str, Any]) -> str:
        """The schedule, or the ``horizon_options``, that rebuild a checkpoint's schedule."""
        if saved.get("schedule") != self.schedule.name:
            if saved.get("schedule") == "paper":
                return "ARSAMPaper(...) with the checkpoint's paper-schedule arguments"
            return "ARSAM(..., total_steps=T) with the checkpoint's total_steps"
        if self.schedule.name == "paper":
            return "ARSAMPaper(...) with the checkpoint's paper-schedule arguments"
        differing = differing_settings(saved, self.settings())
        options = {n: saved[n] for n in differing if n in HORIZON_DEFAULTS and n in saved}
        if not options and "total_steps" not in differing:
            return ""
        steps = saved.get("total_steps") if "total_steps" in differing else "T"
        listed = ", ".join(f"{name}={value!r}" for name, value in options.items())
        return f"ARSAM(..., total_steps={steps}" + (
            f", horizon_options=dict({listed}))" if options else ")"
        )

    def state_dict(self) -> dict[str, Any]:
        """The schedule's progress."""
        return self.schedule.state_dict()

    def load_state_dict(self, state: dict[str, Any], device: torch.device | None) -> None:
        """Restore the schedule's progress, its statistics on ``device`` ("step" ignored)."""
        self.schedule.load_state_dict(state, device)


class _PSFReuseOptimizer(TwoPassOptimizer):
    """What ARSAM and ARSAMPaper share: the rule around a schedule, and the subset S."""

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        base_optimizer: type[torch.optim.Optimizer],
        schedule: ARSAMSchedule,
        rho: float,
        adaptive: bool,
        stat_params: int | Sequence[Tensor] | None,
        **kwargs: Any,
    ) -> None:
        rule = PSFReuse(type(self).__name__, schedule, [])
        super().__init__(params, base_optimizer, rule, rho, adaptive, **kwargs)
        self.rule.stat_params = self._resolve_stat_params(stat_params)

    def _resolve_stat_params(self, stat_params: int | Sequence[Tensor] | None) -> list[Tensor]:
        everything = [p for group in self.param_groups for p in group["params"]]
        perturbed = [p for group in self.param_groups if group["perturb"] for p in group["params"]]
        if stat_params is None:
            stat_params = 10
        if isinstance(stat_params, int) and not isinstance(stat_params, bool):
            if stat_params < 1:
                raise ValueError(f"stat_params must be a positive count, got {stat_params}")
            return (perturbed or everything)[-stat_params:]
        chosen = list(stat_params)
        known = {id(p) for p in everything}
        if not chosen or any(id(p) not in known for p in chosen):
            raise ValueError(
                "stat_params must be a count or a non-empty list of parameters this optimizer "
                "updates"
            )
        return chosen

    @property
    def schedule(self) -> ARSAMSchedule:
        """The schedule in use."""
        return self.rule.schedule

    @property
    def stat_params(self) -> list[Tensor]:
        """The parameter subset S of the statistics."""
        return self.rule.stat_params


class ARSAM(_PSFReuseOptimizer):
    """ARSAM with the horizon-aware schedule: a budget of SAM steps spent over a run of T steps.

    Args (beyond SAM's):
        total_steps: T, the run's length in steps; the schedule picks warm-up, window,
            quota and reuse for it. May be left out and given with ``set_total_steps(T)``
            before the first step (MMEngine's SAMOptimWrapper does so from the train loop).
        horizon_options: options of the schedule for studies (core/horizon_schedule.py:
            budget, warmup_fraction, late_weight, adapt_gain, reuse_decay, reuse_cap,
            reuse_component); None: its defaults.
        stat_params: the subset S for the statistics: an int n (the last n
            perturbed parameter tensors) or the parameters themselves; None: 10.

    The paper's schedule is ``ARSAMPaper``.

    Example::

        opt = ARSAM(model.parameters(), torch.optim.SGD, rho=0.05, total_steps=len(loader) * 200,
                    lr=0.05, momentum=0.9, weight_decay=1e-3)
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        base_optimizer: type[torch.optim.Optimizer],
        rho: float = 0.05,
        adaptive: bool = False,
        total_steps: int | None = None,
        horizon_options: dict[str, Any] | None = None,
        stat_params: int | Sequence[Tensor] | None = None,
        **kwargs: Any,
    ) -> None:
        refuse_paper_spellings(kwargs)
        schedule = HorizonSchedule(total_steps=total_steps, **dict(horizon_options or {}))
        super().__init__(params, base_optimizer, schedule, rho, adaptive, stat_params, **kwargs)

    def check_state_dict(self, state_dict: dict[str, Any]) -> None:
        """As TwoPassOptimizer's; a state of the paper's schedule is refused naming ARSAMPaper."""
        rule = state_dict.get("rule")
        if isinstance(rule, dict) and rule.get("settings", {}).get("schedule") == "paper":
            raise ValueError(
                "this ARSAM state_dict ran the paper's schedule, which is now its own optimizer, "
                "ARSAMPaper: resume with ARSAMPaper(...) and the checkpoint's paper-schedule "
                "arguments (MMEngine: optimizer=dict(type='ARSAMPaper', ...)), or load only the "
                "model weights (MMEngine: load_from=...) and start a new optimizer state."
            )
        super().check_state_dict(state_dict)


class ARSAMPaper(_PSFReuseOptimizer):
    """ARSAM with the paper's schedule, exactly as docs/method.md specifies it.

    Args (beyond SAM's; defaults: core/arsam_schedule.py ``PaperSchedule``, the paper's):
        warmup_steps: leading steps that are all SAM steps.
        window: K, steps per window.
        reuse_steps: steps after a SAM step that mix in the stored PSF.
        reuse_decay: beta in (0, 1]; the k-th reuse step mixes beta**k * PSF.
        quota_gain: (a1, a2), the quota's sensitivity to m_r and m_v.
        max_sam_fraction: the quota's upper bound as a fraction of K.
        var_blocks: blocks of the blocked variance (K must be a multiple).
        seed: seed of the placement generator; identical on every rank.
        stat_params: the subset S for the statistics: an int n (the last n
            perturbed parameter tensors) or the parameters themselves; None: 10.

    Every other keyword argument goes to the base optimizer. Example::

        opt = ARSAMPaper(model.parameters(), torch.optim.SGD, rho=0.05, warmup_steps=1170,
                         lr=0.05, momentum=0.9)
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        base_optimizer: type[torch.optim.Optimizer],
        rho: float = 0.05,
        adaptive: bool = False,
        stat_params: int | Sequence[Tensor] | None = None,
        **kwargs: Any,
    ) -> None:
        for name in ("total_steps", "horizon_options", "schedule"):
            if name in kwargs:
                raise TypeError(
                    f"ARSAMPaper takes no {name}: the paper's schedule plans no run length and "
                    "has one schedule. For the horizon-aware schedule use ARSAM(..., "
                    "total_steps=T); for the paper's, drop this argument."
                )
        options = {name: kwargs.pop(name) for name in PAPER_ARGUMENTS if name in kwargs}
        schedule = PaperSchedule(**options)
        super().__init__(params, base_optimizer, schedule, rho, adaptive, stat_params, **kwargs)

    def set_warmup_steps(self, warmup_steps: int) -> None:
        """Set the warm-up before the first step (e.g. converted from MMEngine's warmup_epochs)."""
        self.schedule.set_warmup_steps(warmup_steps, self.counters["steps"])

    def check_state_dict(self, state_dict: dict[str, Any]) -> None:
        """As TwoPassOptimizer's; also takes ARSAM states that ran the paper's schedule."""
        super().check_state_dict(as_written_by_arsam_paper(state_dict))


def _signature_with_paper_arguments(init: Any) -> inspect.Signature:
    """``init``'s signature with the paper schedule's arguments (and their defaults) listed."""
    own = inspect.signature(init).parameters.values()
    named = [p for p in own if p.kind is not p.VAR_KEYWORD]
    rest = [p for p in own if p.kind is p.VAR_KEYWORD]
    paper = list(inspect.signature(PaperSchedule).parameters.values())
    return inspect.signature(init).replace(parameters=[*named, *paper, *rest])


# help(), the registry and the config checks see the paper's arguments, defaults written once
ARSAMPaper.__init__.__signature__ = _signature_with_paper_arguments(ARSAMPaper.__init__)  # type: ignore[attr-defined]


def refuse_paper_spellings(kwargs: dict[str, Any]) -> None:
    """Raise for the arguments that once chose the paper's schedule inside ARSAM."""
    given = sorted(name for name in ("schedule", *PAPER_ARGUMENTS) if name in kwargs)
    if given:
        raise TypeError(
            f"ARSAM got {', '.join(given)}: ARSAM is the horizon-aware schedule and takes no "
            "schedule= and none of the paper schedule's arguments (warmup_steps, window, "
            "reuse_steps, reuse_decay, quota_gain, max_sam_fraction, var_blocks, seed). For the "
            "paper's schedule use ARSAMPaper(...) with these arguments (configs: "
            "type='ARSAMPaper'); for the horizon-aware one drop them and give total_steps=T "
            "(and horizon_options=dict(...) for its study options)."
        )


def as_written_by_arsam_paper(state_dict: dict[str, Any]) -> dict[str, Any]:
    """A state_dict of ARSAM with the paper's schedule (earlier versions), as ARSAMPaper's."""
    rule = state_dict.get("rule")
    if state_dict.get("kind") != "ARSAM" or not isinstance(rule, dict):
        return state_dict
    if rule.get("settings", {}).get("schedule") != "paper":
        return state_dict
    return {**state_dict, "kind": "ARSAMPaper", "rule": {**rule, "name": "ARSAMPaper"}}
