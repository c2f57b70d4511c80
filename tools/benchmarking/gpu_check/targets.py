"""The check's targets, each with its measured value and met / missed / not measured."""

from __future__ import annotations

from typing import Any

from .settings import COST_MODES, OVERHEAD_TARGET

COST_PARTS = ("cost_resnet18", "cost_wrn28_10")


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
    names: list[str] = []
    for part in COST_PARTS:
        for mode in part_result(report, part).get("modes", []):
            for row in mode.get("rows", []):
                if row["optimizer"].startswith("ARSAM") and row["optimizer"] not in names:
                    names.append(row["optimizer"])
    return names or ["ARSAM"]


def overhead_targets(report: dict[str, Any]) -> list[dict[str, str]]:
    """ARSAM's t / ((1 + f) t_SGD) <= 1.03 on ResNet-18, per ARSAM method and precision."""
    cost = part_result(report, "cost_resnet18")
    rows = []
    for name in arsam_names(report):
        for precision, _ in COST_MODES:
            mode = next((m for m in cost.get("modes", []) if m["precision"] == precision), {})
            arsam = cost_row(mode, name)
            value = arsam.get("overhead") if arsam else None
            measured = "-" if value is None else f"{value:.3f} (f = {arsam['sam_fraction']:.3f})"
            rows.append(
                {
                    "target": f"{name} t / ((1 + f) t_SGD) <= {OVERHEAD_TARGET}, ResNet-18, "
                    f"batch {cost.get('batch_size', '-')}, {precision}",
                    "measured": measured,
                    "verdict": verdict(None if value is None else value <= OVERHEAD_TARGET),
                }
            )
    return rows


def sync_target(report: dict[str, Any]) -> dict[str, str]:
    """No host synchronisation outside the declared reads (window boundaries)."""
    rows = part_result(report, "sync").get("rows", [])
    checked = [r for r in rows if r["verdict"].startswith(("yes (", "no ("))]
    failed = [r["method"] for r in checked if r["verdict"].startswith("no (")]
    undeclared = [r["method"] for r in rows if r.get("declaration") == "no declaration"]
    ok = None if not checked else not failed
    measured = f"{len(checked) - len(failed)} of {len(rows)} methods sync-free"
    if failed:
        measured += f"; failing: {', '.join(failed)}"
    if undeclared:
        measured += f"; no declaration: {', '.join(undeclared)}"
    if not checked:
        measured = "not measured (no CUDA device)" if rows else "-"
    return {
        "target": "no host synchronisation except the declared reads (window boundaries)",
        "measured": measured,
        "verdict": verdict(ok),
    }


def memory_target(report: dict[str, Any], name: str, part: str) -> dict[str, str]:
    """``name``'s parameter-sized state <= the base optimizer's + one parameter-sized buffer."""
    modes = part_result(report, part).get("modes", [])
    mode = next((m for m in modes if m.get("rows")), {})
    arsam, sgd = cost_row(mode, name), cost_row(mode, "SGD")
    ok, measured = None, "-"
    if arsam and sgd:
        split = arsam["state_breakdown"]
        buffers = split["state"] + split["base_state"]
        ok = buffers <= sgd["state_bytes"] + arsam["param_bytes"]
        measured = (
            f"{buffers / arsam['param_bytes']:.2f} x params (SGD: "
            f"{sgd['state_vs_params']:.2f}) + {split['schedule']} B of statistics"
        )
    target = f"{name} state <= base optimizer's + 1 parameter-sized buffer, {part[5:]}"
    return {"target": target, "measured": measured, "verdict": verdict(ok)}


def memory_targets(report: dict[str, Any]) -> list[dict[str, str]]:
    """The memory target per ARSAM method and model."""
    names = arsam_names(report)
    return [memory_target(report, name, part) for name in names for part in COST_PARTS]


def targets(report: dict[str, Any]) -> list[dict[str, str]]:
    """Every target with its measured value and met / missed / not measured."""
    return [*overhead_targets(report), sync_target(report), *memory_targets(report)]
