"""AE-SAM (Jiang et al., ICLR 2023): SAM only where the squared gradient norm is unusually large.

"An adaptive policy to employ sharpness-aware minimization". At step t, after
the first pass (g = grad L(w) on the step's minibatch):

    mu_t      = delta * mu_{t-1}      + (1 - delta) * ||g||^2
    sigma_t^2 = delta * sigma_{t-1}^2 + (1 - delta) * (||g||^2 - mu_t)^2
    c_t       = lambda_1 + (lambda_2 - lambda_1) * min(t / T, 1)
    SAM step  iff  ||g||^2 >= mu_t + c_t * sigma_t

with mu_{-1} = sigma_{-1}^2 = 0, T = ``total_steps`` (given at construction or
with ``set_total_steps`` before the first step), t the number of completed
steps (the optimizer's count, which the rule reads and does not keep), and ||.||
the global L2 norm over every parameter with a gradient, in unscaled units under
mixed precision. A SAM step runs the second pass and
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

from .arguments import check_number
from .host_schedule import linear_schedule
from .multi_tensor import l2_norm
from .rule import StepRule
from .two_pass import TwoPassOptimizer


def update_moments(mean: float, variance: float, value: float, delta: float) -> tuple[float, float]:
    """One EMA step of the mean and variance of ``value`` (the mean is updated first)."""
    mean = delta * mean + (1 - delta) * value
    variance = delta * variance + (1 - delta) * (value - mean) ** 2
    return mean, variance


class SharpGradientTest(StepRule):
    """SAM when ||g||^2 >= mu_t + c_t sigma_t (moving moments of ||g||^2)."""

    name = "AESAM"
    decides_after_first_pass = True
    needs_total_steps = True

    def __init__(
        self, total_steps: int | None, lambda_1: float, lambda_2: float, delta: float
    ) -> None:
        super().__init__()
        self.total_steps: int | None = None
        if total_steps is not None:
            self.set_total_steps(total_steps)
        check_number("lambda_1", lambda_1)
        check_number("lambda_2", lambda_2)
        check_number("delta", delta, low=0.0, high=1.0)
        if delta == 1:
            raise ValueError(f"delta must lie in [0, 1), got {delta!r}")
        self.lambda_1 = float(lambda_1)
        self.lambda_2 = float(lambda_2)
        self.delta = float(delta)
        self.mean = 0.0
        self.variance = 0.0
        self.last_squared_norm = math.nan
        self._pending = (0.0, 0.0, math.nan)

    def set_total_steps(self, total_steps: int) -> None:
        """T, the steps over which c_t moves from lambda_1 to lambda_2."""
        check_number("total_steps", total_steps, low=1, integer=True)
        self.total_steps = int(total_steps)

    def planned_steps(self) -> int | None:
        """T, the steps over which c_t moves."""
        return self.total_steps

    def threshold_coefficient(self, step: int | None = None) -> float:
        """c_t for step ``step`` (default: the coming step)."""
        step = self.steps if step is None else step
        return linear_schedule(self.lambda_1, self.lambda_2, step, self.total_steps)

    def host_reads_ahead(self) -> int:
        """||g|| is read on the host every step."""
        return 1

    def sam_step_from_gradient(self, grads: list[Tensor], scale: Tensor | None) -> bool | None:
        """Update the moments (pending until the step completes) and apply the test."""
        norm = l2_norm(grads)
        if scale is not None:
            norm = norm / scale
        # note: this is a CPU-GPU sync point, the rule's one read per step
        squared_norm = float(norm.item()) ** 2
        if not math.isfinite(squared_norm):
            return None
        mean, variance = update_moments(self.mean, self.variance, squared_norm, self.delta)
        self._pending = (mean, variance, squared_norm)
        return squared_norm >= mean + self.threshold_coefficient() * math.sqrt(variance)

    def commit(self, sam: bool) -> None:
        """Adopt the moments of the completed step."""
        self.mean, self.variance, self.last_squared_norm = self._pending

    def stats(self) -> dict[str, float]:
        """The last ||g||^2, its moving mean and deviation, c_t (NaN until T is known)."""
        known = self.total_steps is not None
        return {
            "grad_norm_sq": self.last_squared_norm,
            "grad_norm_sq_mean": self.mean,
            "grad_norm_sq_std": math.sqrt(self.variance),
            "threshold_coefficient": self.threshold_coefficient() if known else math.nan,
        }

    def settings(self) -> dict[str, Any]:
        """T, lambda_1, lambda_2 and delta."""
        return {
            "total_steps": self.total_steps,
            "lambda_1": self.lambda_1,
            "lambda_2": self.lambda_2,
            "delta": self.delta,
        }

    def state_dict(self) -> dict[str, Any]:
        """The moving moments."""
        return {
            "mean": self.mean,
            "variance": self.variance,
            "last_squared_norm": self.last_squared_norm,
        }

    def load_state_dict(self, state: dict[str, Any], device: torch.device | None) -> None:
        """Restore the moments (a saved "step" is checked by the optimizer and ignored)."""
        self.mean = float(state["mean"])
        self.variance = float(state["variance"])
        self.last_squared_norm = float(state["last_squared_norm"])
        self._pending = (self.mean, self.variance, self.last_squared_norm)


class AESAM(TwoPassOptimizer):
    """SAM on the steps whose squared gradient norm reaches mu_t + c_t * sigma_t.

    Args (beyond SAM's):
        total_steps: T, the number of steps over which c_t goes from lambda_1 to lambda_2
            (usually the run's length); may be left out and given later with
            ``set_total_steps`` before the first step (MMEngine's SAMOptimWrapper does so
            from the train loop).
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
        rule = SharpGradientTest(total_steps, lambda_1, lambda_2, delta)
        super().__init__(params, base_optimizer, rule, rho, adaptive, **kwargs)
