"""Command-line value parsers shared by tools/benchmark.py and tools/compare.py."""

from __future__ import annotations

import argparse
import json
from typing import Any


def json_object(value: str) -> dict[str, Any]:
    """A JSON object given on the command line, e.g. '{"SAMK": {"k": 2}}'."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON ({error}): {value!r}") from error
    if not isinstance(parsed, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {value!r}")
    return parsed
