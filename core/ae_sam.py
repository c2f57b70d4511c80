"""AE-SAM (Jiang et al., ICLR 2023): SAM only where the squared gradient norm is unusually large.

"An adaptive policy to employ sharpness-aware minimization". At step t, after
the first pass (g = grad L(w) on the step's minibatch):

    mu_t      = delta * mu_{t-1}      + (1 - delta) * ||g||^2
    sigma_t^2 = delta * sigma_{t-1}^2 + (1 - delta) * (||g||^2 - mu_t)^2
    c_t       = lambda_1 + (lambda_2 - lambda_1) * min(t / T, 1)
    SAM step  iff  ||g||^2 >= mu_t + c_t * sigma_t

with mu_{-1} = sigma_{-1}^2 = 0, T = ``total_steps``, t the number of completed
steps, and ||.|| the global L2 norm over every parameter with a gradient, in
unscaled units under mixed precision. A SAM step runs the second pass and
updates with g_sam; the others update with g after the single pass. A step
skipped for non-finite gradients leaves mu and sigma as they were.

The rule needs ||g|| on the host: ONE ``.item()`` per step, after the first
pass (with a GradScaler, its scale is read as well, and SAM's finiteness checks
add their own reads). The moments are then host floats (float64); on every
rank they see the same all-reduced gradient, so the decisions agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from .arguments import check_number, require_closure
from .multi_tensor import l2_norm
from .sam import Closure
from .selective_sam import SelectiveSAM, linear_schedule


def update_moments(mean: float, variance: float, value: float, delta: float) -> tuple[float, float]:
    """One EMA step of the mean and variance of ``value`` (the mean is updated first)."""
    mean = delta * mean + (1 - delta) * value
    variance = delta * variance + (1 - delta) * (value - mean) ** 2
    return mean, variance


class AESAM(SelectiveSAM):
    """SAM on the steps whose squared gradient norm reaches mu_t + c_t * sigma_t.

    Args (beyond SAM's):
        total_steps: T, the number of steps over which c_t goes from lambda_1
            to lambda_2 (usually the length of the run); required.
        lambda_1: c_t at the first step.
        lambda_2: c_t from step T on.
        delta: decay of the moving averages, in [0, 1).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        base_optimizer: type[torch.optim.Optimizer],
        rho: float = 0.05,
        adaptive: bool = False,
        total_steps: int | None = None,
        lambda_1: float = -1.0,
        lambda_2: float = 1.0,
        delta: float = 0.9,
        **kwargs: Any,
    ) -> None:
        if total_steps is None:
            raise TypeError(
                "AESAM needs total_steps, the number of steps over which its threshold "
                "coefficient c_t moves from lambda_1 to lambda_2 (usually the run's length)"
            )
        check_number("total_steps", total_steps, low=1, integer=True)
        check_number("lambda_1", lambda_1)
        check_number("lambda_2", lambda_2)
        check_number("delta", delta, low=0.0, high=1.0)
        if delta == 1:
            raise ValueError(f"delta must lie in [0, 1), got {delta!r}")
        super().__init__(params, base_optimizer, rho, adaptive, **kwargs)
        self.total_steps = total_steps
        self.lambda_1 = float(lambda_1)
        self.lambda_2 = float(lambda_2)
        self.delta = float(delta)
        self.mean = 0.0
        self.variance = 0.0
        self.last_squared_norm = math.nan
        self._pending: tuple[float, float, float] = (0.0, 0.0, math.nan)

    def threshold_coefficient(self, step: int | None = None) -> float:
        """c_t for step ``step`` (default: the coming step)."""
        step = self.counters["steps"] if step is None else step
        return linear_schedule(self.lambda_1, self.lambda_2, step, self.total_steps)

    # ------------------------------------------------------------------- step
    @torch.no_grad()
    def step(self, closure: Closure | None = None, grad_scaler: Any = None) -> Any:
        """First pass, then ||g||^2 picks a SAM or a plain step; returns the first pass's loss."""
        closure = require_closure(closure, type(self).__name__)
        loss = self._evaluate(closure)
        squared_norm = self._squared_grad_norm(grad_scaler)
        if self._checked(grad_scaler) and not math.isfinite(squared_norm):
            return self._skip_step(loss, grad_scaler, unscaled=False)
        if self._is_sharp(squared_norm):
            return self._finish_sam_step(closure, loss, grad_scaler)
        return self._finish_plain_step(loss, grad_scaler)

    def _squared_grad_norm(self, grad_scaler: Any) -> float:
        """||g||^2 of the first pass in unscaled units, on the host (the rule's one read)."""
        grads = [
            p.grad for group in self.param_groups for p in group["params"] if p.grad is not None
        ]
        norm = l2_norm(grads).item()
        if grad_scaler is not None:
            norm /= grad_scaler.get_scale()
        return norm * norm

    def _is_sharp(self, squared_norm: float) -> bool:
        """Update the moments (pending until the step completes) and apply the rule."""
        mean, variance = update_moments(self.mean, self.variance, squared_norm, self.delta)
        self._pending = (mean, variance, squared_norm)
        return squared_norm >= mean + self.threshold_coefficient() * math.sqrt(variance)

    def _commit(self, sam: bool) -> None:
        self.mean, self.variance, self.last_squared_norm = self._pending

    # ------------------------------------------------------------- reporting
    @property
    def stats(self) -> dict[str, float]:
        """SAM's counters plus the last completed ||g||^2, its moving mean and deviation, c_t."""
        stats = super().stats
        stats["grad_norm_sq"] = self.last_squared_norm
        stats["grad_norm_sq_mean"] = self.mean
        stats["grad_norm_sq_std"] = math.sqrt(self.variance)
        stats["threshold_coefficient"] = self.threshold_coefficient()
        return stats

    # ------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Any]:
        """SAM's state_dict plus the moving moments."""
        state = super().state_dict()
        state["ae_sam"] = {
            "mean": self.mean,
            "variance": self.variance,
            "last_squared_norm": self.last_squared_norm,
        }
        return state

    def _pop_extra_state(self, state_dict: dict[str, Any]) -> Any:
        return state_dict.pop("ae_sam")

    def _load_extra_state(self, extra: Any) -> None:
        self.mean = float(extra["mean"])
        self.variance = float(extra["variance"])
        self.last_squared_norm = float(extra["last_squared_norm"])
        self._pending = (self.mean, self.variance, self.last_squared_norm)
