"""What tools/train.py and tools/test.py do: config loading, user-facing errors, running.

Mistakes a user makes (a wrong config path, an unknown optimizer, a missing
dataset) become a ``UserError`` with one paragraph that says what to do; the
tools print it instead of a stack trace.
"""

from .config import check_optimizer, enable_amp, load_config
from .errors import UserError, main, user_errors
from .launch import add_launch_arguments, parse_launch_arguments
from .runs import build_runner, report_outputs, run_preflight_checks, test, train

__all__ = [
    "UserError",
    "add_launch_arguments",
    "build_runner",
    "check_optimizer",
    "enable_amp",
    "load_config",
    "main",
    "parse_launch_arguments",
    "report_outputs",
    "run_preflight_checks",
    "test",
    "train",
    "user_errors",
]
