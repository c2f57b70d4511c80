"""Each part in its own process under its own time limit, all within the budget."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from typing import Any

from .context import PartContext
from .environment import environment
from .parts import PARTS, part_title
from .processes import read_json_or_none, run_command, tail
from .report import write_report
from .settings import REPO, RESULT_FILE, SCRIPT, scale_for

MIN_PART_S = 5.0  # a part gets at least this much of the budget, or is skipped
SPARE_S = 5.0  # a part plans to finish this much before its limit


def part_folder(out: str, name: str) -> str:
    """The folder of part ``name``'s log, result and files."""
    return os.path.join(out, "parts", name)


def run_part_here(args: argparse.Namespace) -> int:
    """Child process: run one part and write its result.json."""
    out = part_folder(args.out, args.run_part)
    os.makedirs(out, exist_ok=True)
    ctx = PartContext(
        name=args.run_part,
        out=out,
        scale=scale_for(args.tiny),
        device=args.device,
        deadline=time.monotonic() + args.seconds,
        runs=tuple(args.train_optimizers),
    )
    result = PARTS[args.run_part][1](ctx)
    ctx.save(result, complete=True)
    return 0


def part_command(name: str, args: argparse.Namespace, limit: float) -> list[str]:
    """The command line of the child process that runs part ``name``."""
    command = [sys.executable, SCRIPT, "--run-part", name, "--out", args.out]
    # The part plans with a few seconds to spare; the limit itself is enforced from here.
    command += ["--device", args.device, "--seconds", f"{max(1.0, limit - SPARE_S):.0f}"]
    command += ["--train-optimizers", ",".join(args.train_optimizers)]
    return command + (["--tiny"] if args.tiny else [])


def part_status(code: int | None, result: dict[str, Any] | None) -> str:
    """ok, not available, partly failed, failed (exit n) or timed out."""
    if code is None:
        return "timed out"
    if code != 0 or result is None:
        return f"failed (exit {code})"
    if result.get("available") is False:
        return "not available"
    modes = result.get("modes", [])
    if result.get("errors") or any("error" in r for r in result.get("rows", []) + modes):
        return "partly failed"
    return "ok"


def run_part(name: str, args: argparse.Namespace, limit: float) -> dict[str, Any]:
    """Run part ``name`` in a subprocess within ``limit`` seconds; its record for the report."""
    folder = part_folder(args.out, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, exist_ok=True)
    log = os.path.join(folder, "log.txt")
    start = time.monotonic()
    code = run_command(part_command(name, args, limit), log, limit, own_group=True)
    result = read_json_or_none(os.path.join(folder, RESULT_FILE))
    record = {
        "title": part_title(name),
        "limit_s": limit,
        "seconds": time.monotonic() - start,
        "log": os.path.relpath(log, args.out),
        "result": result,
    }
    record["status"] = part_status(code, result)
    if record["status"] != "ok":
        record["tail"] = tail(log)
    return record


def run_parts(args: argparse.Namespace) -> dict[str, Any]:
    """Run the selected parts one after the other within the budget, rewriting the report."""
    started, start = time.strftime("%Y-%m-%d %H:%M:%S %Z"), time.monotonic()
    scale = scale_for(args.tiny)
    report: dict[str, Any] = {
        "started": started,
        "command": " ".join([os.path.relpath(SCRIPT, REPO), *args.argv]),
        "tiny": args.tiny,
        "budget_s": args.budget,
        "environment": environment(args.device),
        "parts": {},
    }
    for name in args.parts:
        left = args.budget - (time.monotonic() - start)
        limit = min(scale.limits[name], left)
        if limit < MIN_PART_S:
            report["parts"][name] = {"title": part_title(name), "status": "skipped (no time left)"}
        else:
            print(f"== {name} (limit {limit:.0f} s)", flush=True)
            report["parts"][name] = run_part(name, args, limit)
            print(f"   {report['parts'][name]['status']}", flush=True)
        report["wall_s"] = time.monotonic() - start
        write_report(report, args.out)
    return report


def run_check(args: argparse.Namespace) -> int:
    """Run the parts (or, in a child, one part) and write the report."""
    if args.run_part:
        return run_part_here(args)
    os.makedirs(args.out, exist_ok=True)
    report = run_parts(args)
    markdown, json_path = write_report(report, args.out)
    print(f"written: {markdown}, {json_path} ({report.get('wall_s', 0.0):.0f} s)")
    return 0
