"""ARSAM: SAM's gradient split into the SGD gradient plus a reusable second-order term (PSF).

Every step runs the first pass and gets g. Then (method.md, "The algorithm"):

- SAM step (the schedule says so; every step during warm-up): second pass at
  w + e as in SAM, PSF := g_sam - g, c := 1, record ||PSF||_S and
  ||PSF||_S / ||g||_S; the base optimizer steps with g_sam.
- reuse step: for the first ``reuse_steps`` steps after a SAM step c := c * beta
  and the base optimizer steps with g + c * PSF; after that, plain g. These steps
  run the closure ONCE.

The schedule (core/arsam_schedule.py) places floor(b) SAM steps in each window
of K steps and adapts b at window boundaries from the recorded statistics.
PSF is the only persistent parameter-sized buffer; a SAM step also keeps the
first pass's gradient alive while its second pass runs (and a copy of the
weights when non-finite steps are checked, see SAM._second_pass).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor

from .arsam_schedule import ARSAMSchedule
from .multi_tensor import l2_norm
from .sam import GroupParams
from .selective_sam import SelectiveSAM


class ARSAM(SelectiveSAM):
    """Adaptively sampled SAM steps with the PSF term reused in between.

    Args (beyond SAM's):
        warmup_steps: leading steps that are all SAM steps.
        window: K, steps per window.
        reuse_steps: steps after a SAM step that mix in the stored PSF.
        reuse_decay: beta in (0, 1]; the k-th reuse step mixes beta**k * PSF.
        quota_gain: (a1, a2), the quota's sensitivity to m_r and m_v.
        max_sam_fraction: the quota's upper bound as a fraction of K.
        var_blocks: blocks of the blocked variance (K must be a multiple).
        stat_params: the subset S for the statistics: an int n (the last n
            perturbed parameter tensors) or the parameters themselves; None: 10.
        seed: seed of the placement generator; identical on every rank.
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
        **kwargs: Any,
    ) -> None:
        schedule = ARSAMSchedule(
            warmup_steps=warmup_steps,
            window=window,
            reuse_steps=reuse_steps,
            reuse_decay=reuse_decay,
            quota_gain=quota_gain,
            max_sam_fraction=max_sam_fraction,
            var_blocks=var_blocks,
            seed=seed,
        )
        super().__init__(params, base_optimizer, rho, adaptive, **kwargs)
        self.schedule = schedule
        self.stat_params = self._resolve_stat_params(stat_params)

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

    def set_warmup_steps(self, warmup_steps: int) -> None:
        """Set the warm-up length before the first step (e.g. converted from epochs)."""
        self.schedule.set_warmup_steps(warmup_steps)

    # ------------------------------------------------------------------- step
    # SelectiveSAM.step runs the first pass, then either a SAM step (second pass at
    # w + e, then _on_sam_gradient) or a reuse step (_on_plain_gradient) and the base
    # optimizer's update; _commit advances the schedule past the completed step.
    def _sam_step_ahead(self) -> bool:
        """Whether the coming step is a SAM step: every warm-up step, then the window's plan."""
        return self.schedule.is_sam_step()

    def _on_sam_gradient(
        self, groups: GroupParams, first_grads: list[list[Tensor]], grad_scaler: Any
    ) -> bool:
        """SAM step: PSF := g_sam - g and record the statistics; the update uses g_sam."""
        inverse_scale = 1.0 / grad_scaler.get_scale() if grad_scaler is not None else 1.0
        self._measure_psf(groups, first_grads, inverse_scale)
        return True

    def _on_plain_gradient(self) -> None:
        """Reuse step: g := g + c * PSF while c is non-zero, plain g after."""
        coefficient = self.schedule.mixing_coefficient()
        if coefficient:
            self._mix_psf(coefficient)

    def _commit(self, sam: bool) -> None:
        """Advance the schedule (and, at a window boundary, adapt the quota)."""
        self.schedule.commit(sam)

    def _measure_psf(
        self, groups: GroupParams, first_grads: list[list[Tensor]], inverse_scale: float
    ) -> None:
        """PSF := g_sam - g (in unscaled units) and record ||PSF||_S, ||g||_S; .grad keeps g_sam."""
        params = [p for _, group_params in groups for p in group_params]
        g = [grad for group_grads in first_grads for grad in group_grads]
        keep = [i for i, p in enumerate(params) if p.grad is not None]
        params, g = [params[i] for i in keep], [g[i] for i in keep]
        psf = [self._psf_buffer(p) for p in params]
        torch._foreach_copy_(psf, [p.grad for p in params])
        torch._foreach_add_(psf, g, alpha=-inverse_scale)
        first_grad_of = {id(p): grad for p, grad in zip(params, g, strict=False)}
        subset = [p for p in self.stat_params if id(p) in first_grad_of]
        if not subset:
            return
        psf_norm = l2_norm([self.state[p]["psf"] for p in subset])
        grad_norm = l2_norm([first_grad_of[id(p)] for p in subset]) * inverse_scale
        self.schedule.history.record(psf_norm, grad_norm)

    def _psf_buffer(self, param: Tensor) -> Tensor:
        state = self.state[param]
        if "psf" not in state:
            state["psf"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        return state["psf"]

    def _mix_psf(self, coefficient: float) -> None:
        """g := g + c * PSF for every parameter with both."""
        grads, psf = [], []
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None and "psf" in self.state[p]:
                    grads.append(p.grad)
                    psf.append(self.state[p]["psf"])
        if grads:
            torch._foreach_add_(grads, psf, alpha=coefficient)

    # ------------------------------------------------------------- reporting
    @property
    def stats(self) -> dict[str, float]:
        """SAM's counters plus the quota, the last PSF/gradient ratio and the mixing coefficient."""
        stats = super().stats
        stats["quota"] = self.schedule.quota
        stats["psf_ratio"] = self.schedule.last_ratio
        stats["mixing_coefficient"] = self.schedule.coefficient
        return stats

    # ------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Any]:
        """SAM's state_dict plus the schedule (placement, quota, statistics, generator)."""
        state = super().state_dict()
        state["schedule"] = self.schedule.state_dict()
        return state

    def _pop_extra_state(self, state_dict: dict[str, Any]) -> Any:
        return state_dict.pop("schedule")

    def _load_extra_state(self, extra: Any) -> None:
        device = self.stat_params[0].device if self.stat_params else None
        self.schedule.load_state_dict(extra, device)
