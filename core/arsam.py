"""ARSAM: SAM's gradient split into the SGD gradient plus a reusable second-order term (PSF).

One ARSAM step, as docs/method.md "The algorithm" states it; the skeleton that
runs the passes is core/two_pass.py, and this file's ``PSFReuse`` rule is the
whole of what ARSAM adds to it:

1. pass 1: g = grad L(w)                                   (every step)
2. the schedule says whether this is a SAM step            ``sam_step_ahead``
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

Two schedules decide steps 2, 4 and 5: the paper's (core/arsam_schedule.py,
docs/method.md) and the horizon-aware one (core/horizon_schedule.py, docs/method.md
"Beyond the specification"), chosen by ``schedule=``. PSF is the only persistent
parameter-sized buffer; a SAM step also keeps g alive while its second pass runs
(and a copy of the weights when non-finite steps are checked).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor

from .arguments import run_length_changes
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

SCHEDULES = ("auto", "paper", "horizon")
# The paper schedule's own arguments and their defaults (docs/method.md).
PAPER_DEFAULTS = dict(
    warmup_steps=0,
    window=50,
    reuse_steps=6,
    reuse_decay=0.7,
    quota_gain=(0.13, 0.13),
    max_sam_fraction=0.8,
    var_blocks=5,
)


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

    name = "ARSAM"

    def __init__(self, schedule: PaperSchedule | HorizonSchedule, stat_params: list[Tensor]):
        super().__init__()
        self.schedule = schedule
        self.stat_params = stat_params

    def sam_step_ahead(self, step: int) -> bool:
        """The schedule's decision for the coming step."""
        return self.schedule.is_sam_step()

    def host_reads_ahead(self) -> int:
        """One read when the coming step completes a window."""
        return self.schedule.host_reads_ahead()

    def planned_steps(self) -> int | None:
        """The horizon schedule's total_steps; the paper's schedule plans no length."""
        return getattr(self.schedule, "total_steps", None)

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
        at the end (docs/method.md, "What is reused"). The paper's schedule keeps PSF whole.
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
        share = self.schedule.along_share_removed()
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
            cap = getattr(self.schedule, "reuse_cap", None)
            if cap is not None:
                coefficient = capped_coefficient(coefficient, grads, psf, cap)
            add_scaled(grads, psf, coefficient)

    def commit(self, sam: bool) -> None:
        """Advance the schedule (and, at a window boundary, adapt the quota)."""
        self.schedule.commit(sam)

    def _psf_buffer(self, param: Tensor) -> Tensor:
        state = self.state[param]
        if "psf" not in state:
            state["psf"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        return state["psf"]

    # ------------------------------------------------------ reporting, state
    def stats(self) -> dict[str, float]:
        """The schedule's quota, latest PSF ratio, reuse coefficient and window position."""
        return self.schedule.stats()

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
                return "ARSAM(..., schedule='paper') with the checkpoint's paper-schedule arguments"
            return "ARSAM(..., total_steps=T) with the checkpoint's total_steps"
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
        """Restore the schedule's progress, its statistics on ``device``."""
        self.schedule.load_state_dict(state, device)


class ARSAM(TwoPassOptimizer):
    """Adaptively sampled SAM steps with the PSF term reused in between.

    Args (beyond SAM's):
        total_steps: the run's length in steps. Given (and ``schedule`` 'auto'),
            the horizon-aware schedule picks warm-up, window, quota and reuse
            for it.
        schedule: 'auto': horizon-aware when ``total_steps`` is known and none
            of the paper schedule's arguments below (warm-up, window, reuse,
            quota) is set, the paper's otherwise; 'paper'; 'horizon' (needs
            ``total_steps``, takes none of the paper's arguments).
        horizon_options: options of the horizon-aware schedule for studies
            (core/horizon_schedule.py: budget, warmup_fraction, late_weight,
            adapt_gain, reuse_decay, reuse_cap, reuse_component); None: its defaults.
        warmup_steps: leading steps that are all SAM steps (paper schedule).
        window: K, steps per window (paper schedule).
        reuse_steps: steps after a SAM step that mix in the stored PSF.
        reuse_decay: beta in (0, 1]; the k-th reuse step mixes beta**k * PSF.
        quota_gain: (a1, a2), the quota's sensitivity to m_r and m_v.
        max_sam_fraction: the quota's upper bound as a fraction of K.
        var_blocks: blocks of the blocked variance (K must be a multiple).
        stat_params: the subset S for the statistics: an int n (the last n
            perturbed parameter tensors) or the parameters themselves; None: 10.
        seed: seed of the placement generator; identical on every rank.

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
        warmup_steps: int = 0,
        window: int = 50,
        reuse_steps: int = 6,
        reuse_decay: float = 0.7,
        quota_gain: tuple[float, float] = (0.13, 0.13),
        max_sam_fraction: float = 0.8,
        var_blocks: int = 5,
        stat_params: int | Sequence[Tensor] | None = None,
        seed: int = 0,
        total_steps: int | None = None,
        schedule: str = "auto",
        horizon_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if schedule not in SCHEDULES:
            raise ValueError(
                f"schedule must be one of {', '.join(repr(s) for s in SCHEDULES)}, got "
                f"{schedule!r}: 'paper' is docs/method.md's schedule, 'horizon' the "
                "horizon-aware one (needs total_steps), 'auto' picks 'horizon' when "
                "total_steps is given"
            )
        if schedule == "horizon" and total_steps is None:
            raise TypeError(
                "ARSAM(schedule='horizon') needs total_steps, the run's length in steps"
            )
        self._paper_settings = dict(
            warmup_steps=warmup_steps,
            window=window,
            reuse_steps=reuse_steps,
            reuse_decay=reuse_decay,
            quota_gain=quota_gain,
            max_sam_fraction=max_sam_fraction,
            var_blocks=var_blocks,
            seed=seed,
        )
        paper_arguments = sorted(
            k for k, v in PAPER_DEFAULTS.items() if _normalised(self._paper_settings[k]) != v
        )
        if schedule == "horizon" and paper_arguments:
            raise ValueError(
                f"ARSAM(schedule='horizon') chooses warm-up, window, quota and reuse from "
                f"total_steps; drop {', '.join(paper_arguments)}, or use schedule='paper'"
            )
        self.schedule_choice = schedule
        self._horizon_options = dict(horizon_options or {})
        self._uses_paper = schedule == "paper" or bool(paper_arguments)
        chosen = self._make_schedule(total_steps)
        super().__init__(params, base_optimizer, PSFReuse(chosen, []), rho, adaptive, **kwargs)
        self.rule.stat_params = self._resolve_stat_params(stat_params)

    def _make_schedule(self, total_steps: int | None) -> PaperSchedule | HorizonSchedule:
        """The schedule ``schedule=`` and ``total_steps`` call for."""
        if self._uses_paper or total_steps is None:
            return PaperSchedule(**self._paper_settings)
        return HorizonSchedule(total_steps=total_steps, **self._horizon_options)

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
    def schedule(self) -> PaperSchedule | HorizonSchedule:
        """The schedule in use."""
        return self.rule.schedule

    @property
    def stat_params(self) -> list[Tensor]:
        """The parameter subset S of the statistics."""
        return self.rule.stat_params

    def set_warmup_steps(self, warmup_steps: int) -> None:
        """Set the paper schedule's warm-up before the first step (e.g. converted from epochs).

        A warm-up is a paper-schedule argument: with schedule 'auto' it selects the paper's.
        """
        if self.schedule_choice == "horizon":
            raise ValueError(
                "ARSAM(schedule='horizon') chooses its own warm-up from total_steps; give no "
                "warmup_steps/warmup_epochs, or use schedule='paper'"
            )
        if not self._uses_paper and warmup_steps != 0:
            if self.counters["steps"] > 0:
                raise ValueError("the warm-up cannot change after training started")
            self._uses_paper = True
            self.rule.schedule = self._make_schedule(None)
        if isinstance(self.schedule, PaperSchedule):
            self.schedule.set_warmup_steps(warmup_steps)

    def set_total_steps(self, total_steps: int) -> None:
        """Give the run's length before the first step; 'auto' then becomes horizon-aware."""
        if self._uses_paper:
            return
        current = getattr(self.schedule, "total_steps", None)
        if run_length_changes(self.counters["steps"], current, total_steps):
            self.rule.schedule = self._make_schedule(total_steps)


def _normalised(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
