"""The one Markdown table writer, and the JSON files of the benchmark, comparison and GPU check."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

# A column: its title and how to render the cell of one row (a mapping, or any record).
Column = tuple[str, Callable[[Any], str]]


def fixed(digits: int) -> Callable[[Any], str]:
    """A cell formatter for numbers with ``digits`` decimals ('-' for missing values)."""

    def format_cell(value: Any) -> str:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return "-"
        if isinstance(value, int | float):
            return f"{value:.{digits}f}"
        return str(value)

    return format_cell


def text(value: Any) -> str:
    """A cell formatter that prints the value as it is ('-' for None)."""
    return "-" if value is None else str(value)


def column(title: str, key: str, fmt: Callable[[Any], str] = text) -> Column:
    """A column showing ``row[key]`` through ``fmt``."""
    return title, lambda row: fmt(row.get(key))


def markdown_table(columns: Sequence[Column], rows: Sequence[Any]) -> str:
    """``rows`` as a Markdown table."""
    lines = [
        "| " + " | ".join(title for title, _ in columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(cell(row) for _, cell in columns) + " |")
    return "\n".join(lines) + "\n"


def _json_safe(value: Any) -> Any:
    """NaN and infinities become None so the file is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def read_json(path: str, default: Any = None) -> Any:
    """The JSON document at ``path``; ``default``, when given, if it is missing or cut short."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, json.JSONDecodeError):
        if default is None:
            raise
        return default


def write_json(path: str, payload: Any) -> None:
    """Write ``payload`` as indented strict JSON, creating the folder."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as handle:
        json.dump(_json_safe(payload), handle, indent=2)
        handle.write("\n")


def write_text(path: str, content: str) -> None:
    """Write ``content`` to ``path``, creating the folder."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(content)


def write_markdown_and_json(
    out_dir: str, stem: str, markdown: str, payload: Any
) -> tuple[str, str]:
    """Write ``<stem>.md`` and ``<stem>.json`` into ``out_dir``; returns their paths."""
    paths = os.path.join(out_dir, f"{stem}.md"), os.path.join(out_dir, f"{stem}.json")
    write_text(paths[0], markdown)
    write_json(paths[1], payload)
    return paths
