"""Progress of a batch of runs: how many are done, the time so far and an estimate of the rest."""

from __future__ import annotations

import time
from collections.abc import Sequence


class Progress:
    """Run count, elapsed time and an ETA from the relative cost of the runs done so far."""

    def __init__(self, costs: Sequence[float]) -> None:
        self.total_runs, self.total_cost = len(costs), float(sum(costs))
        self.done_runs, self.done_cost = 0, 0.0
        self.started = time.perf_counter()

    def advance(self, cost: float) -> str:
        """Count one finished run of relative ``cost``; '[n/N] elapsed m:ss, ETA m:ss'."""
        self.done_runs += 1
        self.done_cost += cost
        elapsed = time.perf_counter() - self.started
        left = self.total_cost - self.done_cost
        eta = elapsed * left / self.done_cost if self.done_cost > 0 else float("nan")
        return f"[{self.done_runs}/{self.total_runs}] elapsed {_clock(elapsed)}, ETA {_clock(eta)}"


def _clock(seconds: float) -> str:
    if seconds != seconds:  # NaN: nothing to extrapolate from yet
        return "?"
    minutes, seconds = divmod(round(seconds), 60)
    return (
        f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}"
        if minutes >= 60
        else (f"{minutes}:{seconds:02d}")
    )
