"""Shared pieces of the tool tests: running the scripts in this process on tiny runs."""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from arsam.tools.cli.errors import main

REPO = Path(__file__).resolve().parents[2]
DIGITS_CONFIG = REPO / "configs" / "classification" / "digits_arsam.py"
# Digits in 6 iterations per epoch, every iteration logged.
SHORT_DIGITS = (
    "train_dataloader.batch_size=256",
    "default_hooks.logger.interval=1",
    "log_processor.window_size=1",
    "log_level=WARNING",
)
_RUN_IDS = itertools.count()


def load_script(relative: str) -> ModuleType:
    """A script under tools/ (e.g. 'train.py') as a module."""
    name = "tools_test_" + relative.replace("/", "_").removesuffix(".py")
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / relative)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_names() -> tuple[str, str]:
    """--cfg-options giving a run its own experiment and visualizer (shared in one process)."""
    name = f"tools_test_{next(_RUN_IDS)}"
    return f"experiment_name={name}", f"visualizer.name={name}"


def tool_argv(*arguments: Any, options: tuple[str, ...] = ()) -> list[str]:
    """A train/test command line with ``options`` and unique run names as --cfg-options."""
    return [*(str(a) for a in arguments), "--cfg-options", *run_names(), *options]


def exit_code(run: Callable[[list[str]], Any], argv: list[str]) -> int:
    """What the script's command line returns: 0, or 2 after a one-paragraph error."""
    return main(lambda: run(argv))
