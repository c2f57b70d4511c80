"""Progress of a batch of work: units done, the time so far and rich's estimate of the rest.

The one progress/ETA of the project (the evidence suite, tools/compare.py, tools/benchmark.py).
It keeps the count in a ``rich.progress`` task and writes no live display: each report is one
plain line, readable in a log file as well as on a terminal.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.progress import Progress as RichProgress
from rich.progress import TimeElapsedColumn, TimeRemainingColumn


class Progress:
    """Units done of a known total, elapsed time and an ETA from the relative cost done so far."""

    def __init__(self, costs: Sequence[float]) -> None:
        self.total_runs, self.done_runs = len(costs), 0
        # No live display; the rate is the cost done since the start over the time since then.
        self.rich = RichProgress(disable=True, speed_estimate_period=float("inf"))
        self.task_id = self.rich.add_task("", total=float(sum(costs)))
        self.rich.advance(self.task_id, 0.0)  # the first sample: the start
        self.next_tenth, self.last_line = 1, time.perf_counter()

    def advance(self, cost: float = 1.0, runs: int = 1) -> str:
        """Count ``runs`` more units done, of relative ``cost``; '[n/N] elapsed 0:01:02, ETA …'."""
        self.done_runs += runs
        self.rich.advance(self.task_id, cost)
        task = self.rich.tasks[0]
        elapsed = TimeElapsedColumn().render(task).plain
        eta = TimeRemainingColumn().render(task).plain
        return f"[{self.done_runs}/{self.total_runs}] elapsed {elapsed}, ETA {eta}"

    def due(self, interval_s: float) -> bool:
        """Whether a line is due: a new tenth of the work is done, or ``interval_s`` passed."""
        task, now = self.rich.tasks[0], time.perf_counter()
        reached = task.completed * 10 >= self.next_tenth * (task.total or 1.0)
        while self.next_tenth <= 10 and task.completed * 10 >= self.next_tenth * (
            task.total or 1.0
        ):
            self.next_tenth += 1
        if reached or now - self.last_line >= interval_s:
            self.last_line = now
            return True
        return False
