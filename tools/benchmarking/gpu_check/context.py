"""What one part runs with, and how it records its result and its errors."""

from __future__ import annotations

import os
import time
import traceback
from dataclasses import dataclass
from typing import Any

from ..tables import write_json
from .settings import LOG_TAIL_LINES, RESULT_FILE, TRAIN_NAMES, TRAIN_RUNS, Scale


@dataclass
class PartContext:
    """What a part runs with: its folder, the sizes, the device and its deadline."""

    name: str
    out: str
    scale: Scale
    device: str
    deadline: float
    runs: tuple[str, ...] = TRAIN_RUNS

    def seconds_left(self) -> float:
        """Seconds until the part's deadline."""
        return self.deadline - time.monotonic()

    def save(self, result: dict[str, Any], complete: bool = False) -> None:
        """Write the part's result so far (read back even if the part is killed later)."""
        write_json(os.path.join(self.out, RESULT_FILE), {**result, "complete": complete})

    def train_names(self) -> list[str]:
        """The optimizer names of this part's training runs, in the order of ``runs``."""
        return [TRAIN_NAMES[self.name][run] for run in self.runs]


def error_lines(error: BaseException, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last lines of ``error``'s traceback."""
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return text.rstrip().splitlines()[-lines:]
