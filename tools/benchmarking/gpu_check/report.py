"""report.md and report.json: environment, the parts' status, the targets, one section a part."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..cost_report import COLUMNS as COST_COLUMNS
from ..cost_report import sharded_markdown
from ..device import environment_lines
from ..tables import Column, markdown_table, write_markdown_and_json
from .settings import COST_MODES, OVERHEAD_TARGET

COST_PARTS = ("cost_resnet18", "cost_wrn28_10")


def cell(value: Any) -> str:
    """A table cell: floats with 3 decimals, '-' for missing values."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value).replace("|", "\\|")


def cells(*pairs: tuple[str, str | Callable[[Any], Any]]) -> list[Column]:
    """A column per (title, key or function of the row), its value shown as a ``cell``."""
    return [
        (title, lambda row, get=get: cell(get(row) if callable(get) else row.get(get)))
        for title, get in pairs
    ]


PART_COLUMNS = cells(
    ("Part", "name"),
    ("What", "title"),
    ("Status", "status"),
    ("Seconds", "seconds"),
    ("Limit (s)", "limit_s"),
)
TARGET_COLUMNS = cells(("Target", "target"), ("Measured", "measured"), ("", "verdict"))
SYNC_COLUMNS = cells(
    ("Method", "method"),
    ("Schedule", "schedule"),
    ("Declaration", "declaration"),
    ("Checked ('error')", "checked"),
    ("Exempt", "exempt"),
    ("Declared reads", "declared_reads"),
    ("Syncs seen (exempt)", "observed_syncs"),
    ("Sync-free", lambda r: r["verdict"] + (f": {r['note']}" if r.get("note") else "")),
)
ACCURACY_COLUMNS = cells(
    ("Optimizer", "optimizer"),
    ("Final top-1 (%)", "final"),
    ("Best top-1 (%)", "best"),
    ("Passes/step", "passes_per_step"),
    ("SAM fraction", "sam_fraction"),
    ("Train time (s)", "train_time_s"),
    (
        "Curve [train s, top-1 %]",
        lambda r: " ".join(f"[{cell(t)}, {cell(a)}]" for t, a in r["curve"]),
    ),
)


def training_columns(reference: str) -> list[Column]:
    """The columns of a training part's table, ratios over the ``reference`` optimizer."""
    return cells(
        ("Optimizer", "optimizer"),
        ("Iterations (timed)", lambda r: f"{r.get('iterations')} ({r.get('timed_iterations')})"),
        ("Mean s/iter", "time_s"),
        ("Median s/iter", "median_time_s"),
        ("Mean data s/iter", "data_time_s"),
        ("SAM fraction f", "sam_fraction"),
        (f"Time / {reference}", "time_vs_base"),
        (f"t / ((1 + f) t_{reference})", "overhead"),
        ("Same without data time", "compute_overhead"),
        ("Error", lambda r: (r.get("error") or ["-"])[-1]),
    )


def sync_section(result: dict[str, Any]) -> list[str]:
    """The sync-free check's table."""
    intro = (
        f"{result.get('model')} at batch {result.get('batch_size')}, {result.get('steps')} steps "
        f"per method after 2 unchecked ones, ARSAM window {result.get('arsam_window')}."
    )
    return [intro, "", markdown_table(SYNC_COLUMNS, result.get("rows", []))]


def cost_section(result: dict[str, Any]) -> list[str]:
    """One table per precision mode, with tools/benchmark.py's columns."""
    lines = [f"Model {result.get('model')}, batch {result.get('batch_size')}.", ""]
    for mode in result.get("modes", []):
        layout = "channels_last" if mode["channels_last"] else "contiguous"
        parameters = mode.get("parameters", "-")
        lines += [f"**{mode['precision']}** ({layout}, {parameters} parameters)", ""]
        if mode.get("error"):
            lines += ["```", *mode["error"], "```", ""]
        else:
            lines += [markdown_table(COST_COLUMNS, mode["rows"]), ""]
    return lines


def training_section(result: dict[str, Any], reference: str) -> list[str]:
    """Iteration times of the tools/train.py runs, over the reference optimizer's."""
    keys = ("config", "batch_size", "images", "epochs", "options", "arsam")
    intro = ", ".join(f"{k}: {result[k]}" for k in keys if k in result)
    return [intro, "", markdown_table(training_columns(reference), result.get("rows", []))]


def accuracy_section(result: dict[str, Any]) -> list[str]:
    """Final and best accuracy, passes and training time, and the accuracy-time points."""
    if result.get("available") is False:
        return [f"Not available: {result.get('note')}."]
    intro = (
        f"CIFAR ResNet-18 on procedural images ({result.get('images')} train/test), "
        f"{result.get('epochs')} epochs at batch {result.get('batch_size')}, ARSAM "
        f"{result.get('arsam')}, through tools/compare.py."
    )
    return [intro, "", markdown_table(ACCURACY_COLUMNS, result.get("rows", []))]


SECTIONS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "sync": sync_section,
    "cost_resnet18": cost_section,
    "cost_wrn28_10": cost_section,
    "pose": lambda result: training_section(result, "adam"),
    "quantization": lambda result: training_section(result, "sgd"),
    "accuracy": accuracy_section,
    "sharded": lambda result: sharded_markdown(result).splitlines(),
}


def part_result(report: dict[str, Any], name: str) -> dict[str, Any]:
    """The result a part wrote, or an empty dict."""
    return (report["parts"].get(name) or {}).get("result") or {}


def cost_row(mode: dict[str, Any], optimizer: str) -> dict[str, Any] | None:
    """The cost table row of ``optimizer`` in one precision mode."""
    return next((r for r in mode.get("rows", []) if r["optimizer"] == optimizer), None)


def verdict(ok: bool | None) -> str:
    """met, missed or not measured."""
    return "not measured" if ok is None else ("met" if ok else "missed")


def arsam_names(report: dict[str, Any]) -> list[str]:
    """The ARSAM methods measured by the cost parts (one per schedule), else just ARSAM."""
    rows = [
        row["optimizer"]
        for part in COST_PARTS
        for mode in part_result(report, part).get("modes", [])
        for row in mode.get("rows", [])
    ]
    return list(dict.fromkeys(n for n in rows if n.startswith("ARSAM"))) or ["ARSAM"]


def overhead_target(report: dict[str, Any], name: str, precision: str) -> dict[str, str]:
    """``name``'s t / ((1 + f) t_base) <= 1.03 on ResNet-18 in one precision."""
    cost = part_result(report, "cost_resnet18")
    mode = next((m for m in cost.get("modes", []) if m["precision"] == precision), {})
    arsam = cost_row(mode, name)
    value = arsam.get("overhead") if arsam else None
    measured = "-" if value is None else f"{value:.3f} (f = {arsam['sam_fraction']:.3f})"
    return {
        "target": f"{name} t / ((1 + f) t_base) <= {OVERHEAD_TARGET}, ResNet-18, "
        f"batch {cost.get('batch_size', '-')}, {precision}",
        "measured": measured,
        "verdict": verdict(None if value is None else value <= OVERHEAD_TARGET),
    }


def sync_target(report: dict[str, Any]) -> dict[str, str]:
    """No host synchronisation outside the declared reads (window boundaries)."""
    rows = part_result(report, "sync").get("rows", [])
    checked = [r for r in rows if r["verdict"].startswith(("yes (", "no ("))]
    failed = [r["method"] for r in checked if r["verdict"].startswith("no (")]
    undeclared = [r["method"] for r in rows if r.get("declaration") == "no declaration"]
    measured = f"{len(checked) - len(failed)} of {len(rows)} methods sync-free"
    measured += f"; failing: {', '.join(failed)}" if failed else ""
    measured += f"; no declaration: {', '.join(undeclared)}" if undeclared else ""
    if not checked:
        measured = "not measured (no CUDA device)" if rows else "-"
    return {
        "target": "no host synchronisation except the declared reads (window boundaries)",
        "measured": measured,
        "verdict": verdict(None if not checked else not failed),
    }


def memory_target(report: dict[str, Any], name: str, part: str) -> dict[str, str]:
    """``name``'s parameter-sized state <= the base optimizer's + one parameter-sized buffer."""
    mode = next((m for m in part_result(report, part).get("modes", []) if m.get("rows")), {})
    arsam, sgd = cost_row(mode, name), cost_row(mode, "base")
    ok, measured = None, "-"
    if arsam and sgd:
        split = arsam["state_breakdown"]
        buffers = split["state"] + split["base_state"]
        ok = buffers <= sgd["state_bytes"] + arsam["param_bytes"]
        measured = (
            f"{buffers / arsam['param_bytes']:.2f} x params (base SGD: "
            f"{sgd['state_vs_params']:.2f}) + {split['schedule']} B of statistics"
        )
    target = f"{name} state <= base optimizer's + 1 parameter-sized buffer, {part[5:]}"
    return {"target": target, "measured": measured, "verdict": verdict(ok)}


def targets(report: dict[str, Any]) -> list[dict[str, str]]:
    """Every target with its measured value and met / missed / not measured."""
    names = arsam_names(report)
    overhead = [overhead_target(report, n, p) for n in names for p, _ in COST_MODES]
    memory = [memory_target(report, n, part) for n in names for part in COST_PARTS]
    return [*overhead, sync_target(report), *memory]


def report_markdown(report: dict[str, Any]) -> str:
    """The whole report as Markdown."""
    tiny = " (tiny CPU run: exercises the script, not GPU figures)" if report["tiny"] else ""
    parts = [{"name": name, **part} for name, part in report["parts"].items()]
    lines = [
        "# GPU check" + tiny,
        "",
        f"- started {report['started']}, {report.get('wall_s', 0.0):.0f} s of a "
        f"{report['budget_s']:.0f} s budget; command: `{report['command']}`",
        *environment_lines(report["environment"]),
        "",
        "## Parts",
        "",
        markdown_table(PART_COLUMNS, parts),
        "## Targets",
        "",
        markdown_table(TARGET_COLUMNS, report["targets"]),
    ]
    for name, part in report["parts"].items():
        lines += [f"## {part['title']}", ""]
        if part.get("tail"):
            lines += [f"Status: {part['status']}; last lines of `{part.get('log')}`:", "", "```"]
            lines += [*part["tail"], "```", ""]
        lines += SECTIONS[name](part["result"]) if part.get("result") else []
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_report(report: dict[str, Any], out: str) -> tuple[str, str]:
    """Write report.md and report.json into ``out``; returns their paths."""
    report["targets"] = targets(report)
    return write_markdown_and_json(out, "report", report_markdown(report), report)
