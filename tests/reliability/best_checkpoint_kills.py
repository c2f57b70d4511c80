"""Kill a run that keeps its best checkpoint inside the best-checkpoint rotation; resume; compare.

    python -m tests.reliability.best_checkpoint_kills WORK_DIR

An unkilled run of the fault-injection config records at which instant (``KillSwitch``'s count)
each ``best_*.pth`` is renamed into place and each replaced best file is deleted. Then, for each
chosen instant, a run is killed there with SIGKILL and resumed with ``--resume``:

- right after the second best file is renamed into place, before the iteration checkpoint is
  saved again to record it (the kill the issue measured: stale best files, the score forgotten);
- right before the previous best file is deleted, after that re-save.

Prints one JSON line: the instants and every check that failed (none: the resumed run ends with
the unkilled run's best files, best score, best weights and training state).
"""

from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import signal
import sys
from collections.abc import Callable

import torch

import arsam.core.mmengine_adapter  # noqa: F401
import tests.adapter.toy  # noqa: F401
from tests.reliability.fault_injection import CONFIG, final_checkpoint
from tests.reliability.harness import fork_train, same, training_state

OPTIONS = ["--cfg-options", "train_cfg.max_iters=26"]  # best files at iterations 6, 12 and 24


def argv(work_dir: str) -> list[str]:
    """The command line of every run (the first start of a killed run resumes nothing)."""
    return [CONFIG, "--work-dir", work_dir, "--resume", *OPTIONS]


def record_file_operations(work_dir: str, counter: str) -> tuple[int, list[tuple[int, str, str]]]:
    """Run unkilled; its exit code and (instant, 'replace' or 'remove', file name) of each."""
    events: list[tuple[int, str, str]] = []
    log = osp.join(osp.dirname(counter), "operations")
    originals = {name: getattr(os, name) for name in ("replace", "remove")}

    def recording(name: str) -> Callable:
        def operation(*args, **kwargs):
            with open(counter) as f:  # KillSwitch counted this call just before
                instant = f.read()
            target = args[1] if name == "replace" else args[0]
            with open(log, "a") as f:
                f.write(f"{instant} {name} {osp.basename(str(target))}\n")
            return originals[name](*args, **kwargs)

        return operation

    for name in originals:
        setattr(os, name, recording(name))
    try:
        code = fork_train(argv(work_dir), counter_file=counter)
    finally:
        for name, function in originals.items():
            setattr(os, name, function)
    with open(log) as f:
        for line in f:
            instant, name, target = line.split()
            events.append((int(instant), name, target))
    return code, events


def best_files(work_dir: str) -> dict[str, dict]:
    """The best checkpoints in ``work_dir``, by name."""
    names = sorted(n for n in os.listdir(work_dir) if n.startswith("best_") and n.endswith(".pth"))
    return {n: torch.load(osp.join(work_dir, n), weights_only=True) for n in names}


def best_score(checkpoint: dict) -> float:
    """The best score a checkpoint's message hub remembers."""
    return checkpoint["message_hub"]["runtime_info"]["best_score"]


def run(work_root: str) -> dict:
    """The experiment; returns the summary (``failures`` empty when everything held)."""
    reference_dir = osp.join(work_root, "reference")
    os.makedirs(work_root, exist_ok=True)
    code, events = record_file_operations(reference_dir, osp.join(work_root, "instants"))
    if code != 0:
        return {"failures": [f"the unkilled run exited with {code}"]}
    renamed = [i for i, name, target in events if name == "replace" and target.startswith("best_")]
    deleted = [i for i, name, target in events if name == "remove" and target.startswith("best_")]
    instants = {
        "after the second best file": renamed[1] + 1,
        "before the old best's deletion": deleted[0],
    }
    reference = final_checkpoint(reference_dir)
    reference_best = best_files(reference_dir)
    failures: list[str] = []
    for what, at in instants.items():
        killed_dir = osp.join(work_root, f"killed_at_{at}")
        code = fork_train(argv(killed_dir), kill_at=at)
        if code != -signal.SIGKILL:
            failures.append(f"{what} (instant {at}): exited with {code}, not by the kill")
            continue
        code = fork_train(argv(killed_dir))
        if code != 0:
            failures.append(f"{what} (instant {at}): the resume exited with {code}")
            continue
        final, best = final_checkpoint(killed_dir), best_files(killed_dir)
        if sorted(best) != sorted(reference_best):
            failures.append(f"{what}: best files {sorted(best)}, unkilled {sorted(reference_best)}")
        if best_score(final) != best_score(reference):
            failures.append(
                f"{what}: best score {best_score(final)}, unkilled {best_score(reference)}"
            )
        for name in set(best) & set(reference_best):
            failures += same(best[name]["state_dict"], reference_best[name]["state_dict"], name)
        failures += same(training_state(final), training_state(reference), f"{what}: final")
    return {"instants": instants, "best_files": sorted(reference_best), "failures": failures}


def main(argv: list[str] | None = None) -> int:
    """Command line: run the experiment and print its summary as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work_root")
    args = parser.parse_args(argv)
    summary = run(args.work_root)
    print(json.dumps(summary), flush=True)
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
