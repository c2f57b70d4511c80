"""report.md and report.json: environment, the parts' status, the targets, one section a part."""

from __future__ import annotations

import os
from typing import Any

from ..tables import Column, markdown_table, write_json, write_text
from .environment import environment_lines
from .sections import SECTIONS, cell, cells
from .targets import targets

PART_COLUMNS: tuple[Column, ...] = (
    ("Part", lambda row: cell(row["name"])),
    cells("What", "title"),
    cells("Status", "status"),
    cells("Seconds", "seconds"),
    cells("Limit (s)", "limit_s"),
)
TARGET_COLUMNS: tuple[Column, ...] = (
    cells("Target", "target"),
    cells("Measured", "measured"),
    cells("", "verdict"),
)


def header_lines(report: dict[str, Any]) -> list[str]:
    """Title, command, environment and the parts' status table."""
    tiny = " (tiny CPU run: exercises the script, not GPU figures)" if report["tiny"] else ""
    parts = [{"name": name, **part} for name, part in report["parts"].items()]
    return [
        "# GPU check" + tiny,
        "",
        f"- started {report['started']}, {report.get('wall_s', 0.0):.0f} s of a "
        f"{report['budget_s']:.0f} s budget; command: `{report['command']}`",
        *environment_lines(report["environment"]),
        "",
        "## Parts",
        "",
        markdown_table(PART_COLUMNS, parts),
    ]


def part_lines(name: str, part: dict[str, Any]) -> list[str]:
    """One part's section: its log's last lines when it did not finish well, then its tables."""
    lines = [f"## {part['title']}", ""]
    if part.get("tail"):
        lines += [f"Status: {part['status']}; last lines of `{part.get('log')}`:", "", "```"]
        lines += [*part["tail"], "```", ""]
    if part.get("result"):
        lines += SECTIONS[name](part["result"])
    lines.append("")
    return lines


def report_markdown(report: dict[str, Any]) -> str:
    """The whole report as Markdown."""
    lines = header_lines(report)
    lines += ["## Targets", "", markdown_table(TARGET_COLUMNS, report["targets"])]
    for name, part in report["parts"].items():
        lines += part_lines(name, part)
    return "\n".join(lines).rstrip() + "\n"


def write_report(report: dict[str, Any], out: str) -> tuple[str, str]:
    """Write report.md and report.json into ``out``; returns their paths."""
    report["targets"] = targets(report)
    markdown, json_path = os.path.join(out, "report.md"), os.path.join(out, "report.json")
    write_json(json_path, report)
    write_text(markdown, report_markdown(report))
    return markdown, json_path
