"""ARSAM's paper schedule: which steps are SAM steps, and how much stored PSF the others mix in.

docs/method.md, "`ARSAMPaper`: the paper's schedule": warm-up, windows of K steps holding
floor(b) SAM steps at random positions, b adapted at each window boundary from the trends of
r_j = ||PSF_j||_S / ||g_j||_S and of the blocked variance of ||PSF_j||_S, and PSF
reused with c = beta^k for ``reuse_steps`` steps after each SAM step.

Every decision is made on the host from a CPU generator and host counters, so a
step never waits for the device. The device is read once per window: at each
boundary, counted in windows of K from the end of the warm-up (also during it),
the adapted quota and the latest ratio come to the host in one read. The step count
is the optimizer's: every method that needs it is given it (``step``: steps completed
so far); the schedule neither counts nor saves steps.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from .arguments import check_number
from .gradients import safe_ratio
from .host_schedule import draw_uniforms, read_on_host


def place_sam_steps(count: int, probability: float, uniforms: list[float]) -> list[bool]:
    """Positions of exactly ``count`` SAM steps in a window of ``len(uniforms)`` steps.

    While the quota is not used up, a step is a SAM step when its uniform draw is
    below ``probability``; the last steps are forced to be SAM steps when the
    quota could otherwise not be filled.
    """
    plan: list[bool] = []
    remaining = count
    for position, draw in enumerate(uniforms):
        steps_left = len(uniforms) - position
        sam = remaining > 0 and (remaining >= steps_left or draw < probability)
        plan.append(sam)
        remaining -= int(sam)
    return plan


def mean_relative_change(values: Tensor) -> Tensor:
    """Mean of (x[i+1] - x[i]) / x[i] along a 1-D sequence, clipped to [-1, 1]; 0 where x[i] = 0."""
    previous, following = values[:-1], values[1:]
    change = safe_ratio(following - previous, previous)
    return change.mean().nan_to_num(0.0).clamp(-1.0, 1.0)


def blocked_variance(values: Tensor, blocks: int) -> Tensor:
    """Sort the last dimension, cut it into ``blocks`` equal blocks, average their variances."""
    ordered = values.sort(dim=-1).values
    return ordered.unflatten(-1, (blocks, -1)).var(dim=-1, correction=0).mean(dim=-1)


def adapt_quota(
    quota: Tensor, m_r: Tensor, m_v: Tensor, gains: tuple[float, float], max_quota: int
) -> Tensor:
    """b := clamp(b * (1 + a1 * m_r + a2 * m_v), 1, max_quota)."""
    return (quota * (1 + gains[0] * m_r + gains[1] * m_v)).clamp(1.0, float(max_quota))


class PSFHistory:
    """The latest ||PSF||_S and ||PSF||_S / ||g||_S measurements, kept on the device.

    Ratios: the last K (for m_r). PSF norms: the last 2K - 1, enough for the
    blocked variance v_j of each of the last K SAM steps (for m_v).
    """

    def __init__(self, window: int, var_blocks: int) -> None:
        self.window = window
        self.var_blocks = var_blocks
        self.count = 0
        self.ratios: Tensor | None = None
        self.psf_norms: Tensor | None = None

    def record(self, psf_norm: Tensor, grad_norm: Tensor) -> None:
        """Store one SAM step's measurement without leaving the device."""
        if self.ratios is None or self.psf_norms is None:
            self.ratios = torch.zeros(self.window, device=psf_norm.device)
            self.psf_norms = torch.zeros(2 * self.window - 1, device=psf_norm.device)
        ratio = safe_ratio(psf_norm, grad_norm)
        self.ratios[self.count % self.ratios.numel()] = ratio
        self.psf_norms[self.count % self.psf_norms.numel()] = psf_norm
        self.count += 1

    def latest(self, buffer: Tensor, n: int) -> Tensor:
        """The last ``n`` values written to ring ``buffer``, oldest first."""
        capacity = buffer.numel()
        if self.count <= capacity:
            return buffer[: self.count][self.count - n :]
        return torch.roll(buffer, -(self.count % capacity))[capacity - n :]

    def trends(self) -> tuple[Tensor, Tensor]:
        """(m_r, m_v): mean relative change of r and of the blocked variance v, each in [-1, 1]."""
        zero = torch.zeros(()) if self.ratios is None else self.ratios.new_zeros(())
        if self.ratios is None or self.psf_norms is None:
            return zero, zero
        n_r = min(self.count, self.window)
        m_r = mean_relative_change(self.latest(self.ratios, n_r)) if n_r >= 2 else zero
        length = min(self.count, 2 * self.window - 1)
        n_v = length - self.window + 1
        if n_v < 2:
            return m_r, zero
        windows = self.latest(self.psf_norms, length).unfold(0, self.window, 1)
        m_v = mean_relative_change(blocked_variance(windows, self.var_blocks))
        return m_r, m_v

    def last_ratio(self) -> Tensor | None:
        """The most recent ratio r on the device, or None before any measurement."""
        if self.ratios is None or self.count == 0:
            return None
        return self.ratios[(self.count - 1) % self.ratios.numel()]

    def state_dict(self) -> dict[str, Any]:
        """The buffers and the measurement count."""
        return {"count": self.count, "ratios": self.ratios, "psf_norms": self.psf_norms}

    def load_state_dict(self, state: dict[str, Any], device: torch.device | None = None) -> None:
        """Restore buffers written by ``state_dict``, on ``device`` if given."""
        self.count = int(state["count"])
        self.ratios = None if state["ratios"] is None else state["ratios"].to(device)
        self.psf_norms = None if state["psf_norms"] is None else state["psf_norms"].to(device)


class PaperSchedule:
    """Warm-up, windows of K steps with an adaptive SAM quota, and PSF reuse coefficients.

    Its arguments' defaults are the paper's (docs/method.md), written here only.
    """

    name = "paper"
    needs_total_steps = False  # the paper plans no run length
    reuse_cap = None  # the paper does not bound the reused term

    def __init__(
        self,
        *,
        warmup_steps: int = 0,
        window: int = 50,
        reuse_steps: int = 6,
        reuse_decay: float = 0.7,
        quota_gain: tuple[float, float] = (0.13, 0.13),
        max_sam_fraction: float = 0.8,
        var_blocks: int = 5,
        seed: int = 0,
    ) -> None:
        check_number("warmup_steps", warmup_steps, low=0, integer=True)
        check_number("window", window, low=1, integer=True)
        check_number("reuse_steps", reuse_steps, low=0, integer=True)
        check_number("reuse_decay", reuse_decay, low=0.0, low_open=True, high=1.0)
        check_number("max_sam_fraction", max_sam_fraction, low=0.0, low_open=True, high=1.0)
        check_number("var_blocks", var_blocks, low=1, integer=True)
        check_number("seed", seed, integer=True)
        if not (isinstance(quota_gain, (tuple, list)) and len(quota_gain) == 2):
            raise TypeError(f"quota_gain must be a pair (a1, a2), got {quota_gain!r}")
        for i, gain in enumerate(quota_gain):
            check_number(f"quota_gain[{i}]", gain)
        if window % var_blocks or window // var_blocks < 2:
            raise ValueError(
                f"window must be a multiple of var_blocks with at least 2 values per block "
                f"(the blocked variance splits K sorted values into equal blocks), got "
                f"window={window}, var_blocks={var_blocks}"
            )
        if math.floor(window * max_sam_fraction) < 1:
            raise ValueError(
                f"window * max_sam_fraction must be at least 1 (room for one SAM step per "
                f"window), got window={window}, max_sam_fraction={max_sam_fraction}"
            )
        self.warmup_steps = warmup_steps
        self.window = window
        self.reuse_steps = reuse_steps
        self.reuse_decay = reuse_decay
        self.quota_gain = (float(quota_gain[0]), float(quota_gain[1]))
        self.max_sam_fraction = float(max_sam_fraction)
        self.max_quota = math.floor(window * max_sam_fraction)
        self.var_blocks = var_blocks
        self.history = PSFHistory(window, var_blocks)
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self.quota = 1.0
        self.plan: list[bool] = []
        self.steps_since_sam: int | None = None
        self.coefficient = 0.0
        self.last_ratio = math.nan
        if warmup_steps == 0:
            self._place(self._draw_plan())

    def settings(self) -> dict[str, Any]:
        """Every hyperparameter of the schedule."""
        return {
            "warmup_steps": self.warmup_steps,
            "window": self.window,
            "reuse_steps": self.reuse_steps,
            "reuse_decay": self.reuse_decay,
            "quota_gain": list(self.quota_gain),
            "max_sam_fraction": self.max_sam_fraction,
            "var_blocks": self.var_blocks,
            "seed": self.seed,
        }

    def set_warmup_steps(self, warmup_steps: int, step: int) -> None:
        """Change the warm-up before the first step (front-ends that count it in epochs)."""
        check_number("warmup_steps", warmup_steps, low=0, integer=True)
        if warmup_steps == self.warmup_steps:
            return
        if step > 0:
            raise ValueError(
                f"the warm-up cannot change after training started (step {step}, "
                f"warmup_steps {self.warmup_steps} -> {warmup_steps})"
            )
        self.warmup_steps = warmup_steps
        self.generator.manual_seed(self.seed)
        self.plan = []
        if warmup_steps == 0:
            self._place(self._draw_plan())

    def planned_steps(self) -> int | None:
        """None: the paper's schedule plans no run length."""
        return None

    def set_total_steps(self, total_steps: int) -> None:
        """Never called: the paper's schedule plans no run length (``needs_total_steps``)."""
        raise TypeError("the paper's schedule plans no run length")

    # ------------------------------------------------------------- decisions
    def is_sam_step(self, step: int) -> bool:
        """Whether step ``step`` (the coming one) measures PSF with a second pass; no changes."""
        if step < self.warmup_steps:
            return True
        return self.plan[(step - self.warmup_steps) % self.window]

    def along_share_removed(self, step: int) -> float:
        """0: the paper reuses PSF whole."""
        return 0.0

    def mixing_coefficient(self) -> float:
        """c for the coming step: reuse_decay ** k for the k-th step after a SAM step, 0 after."""
        if self.steps_since_sam is None or self.steps_since_sam >= self.reuse_steps:
            return 0.0
        return self.coefficient * self.reuse_decay

    def is_boundary(self, step: int) -> bool:
        """Whether the device is read when ``step`` steps have completed (once every K)."""
        return step > 0 and (step - self.warmup_steps) % self.window == 0

    def host_reads_ahead(self, step: int) -> int:
        """1 when step ``step`` (the coming one) completes a window, else 0."""
        return int(self.is_boundary(step + 1))

    # --------------------------------------------------------------- updates
    def record(self, psf_norm: Tensor, grad_norm: Tensor) -> None:
        """Store one SAM step's ||PSF||_S and ||g||_S on the device."""
        self.history.record(psf_norm, grad_norm)

    def commit(self, sam_step: bool, completed: int) -> None:
        """Advance past a step (``completed``: steps done, it included); at a boundary, replan."""
        if sam_step:
            self.steps_since_sam, self.coefficient = 0, 1.0
        elif self.steps_since_sam is not None:
            self.coefficient = self.mixing_coefficient()
            self.steps_since_sam += 1
        if not self.is_boundary(completed):
            return
        position = completed - self.warmup_steps
        self.quota, self.last_ratio = self._read_boundary_values(adapt=position > 0)
        if position >= 0:
            self._place(self._draw_plan())

    def _draw_plan(self) -> list[float]:
        return draw_uniforms(self.generator, self.window)

    def _place(self, uniforms: list[float]) -> None:
        self.plan = place_sam_steps(math.floor(self.quota), self.quota / self.window, uniforms)

    def _read_boundary_values(self, adapt: bool) -> tuple[float, float]:
        """(quota for the next window, latest ratio r), brought to the host in ONE read.

        The quota is broadcast from rank 0, so every rank places the same SAM steps.
        """
        device = self.history.ratios.device if self.history.ratios is not None else None
        quota = torch.tensor(self.quota, device=device)
        if adapt:
            m_r, m_v = self.history.trends()
            quota = adapt_quota(quota, m_r, m_v, self.quota_gain, self.max_quota)
        ratio = self.history.last_ratio()
        values = torch.stack(
            [quota.float(), quota.new_tensor(math.nan) if ratio is None else ratio]
        )
        quota_value, ratio_value = read_on_host(values)
        return quota_value, ratio_value

    # ------------------------------------------------------------- reporting
    def stats(self, step: int) -> dict[str, float]:
        """Quota, latest PSF/gradient ratio, reuse coefficient and window position (host only)."""
        position = step - self.warmup_steps
        return {
            "quota": self.quota,
            "psf_ratio": self.last_ratio,
            "mixing_coefficient": self.coefficient,
            "window_position": position % self.window if position >= 0 else -1,
        }

    # ----------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Any]:
        """Quota, placement, reuse state, statistics and the generator's state."""
        return {
            "quota": self.quota,
            "plan": list(self.plan),
            "steps_since_sam": self.steps_since_sam,
            "coefficient": self.coefficient,
            "last_ratio": self.last_ratio,
            "generator": self.generator.get_state(),
            "history": self.history.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any], device: torch.device | None = None) -> None:
        """Restore a state written by ``state_dict`` (the caller checks settings and "step")."""
        self.quota = float(state["quota"])
        self.plan = [bool(x) for x in state["plan"]]
        self.steps_since_sam = state["steps_since_sam"]
        self.coefficient = float(state["coefficient"])
        self.last_ratio = float(state["last_ratio"])
        self.generator.set_state(state["generator"].cpu())
        self.history.load_state_dict(state["history"], device)
