"""Kill a training run again and again at random instants; resume; compare with an unkilled run.

    python -m tests.reliability.fault_injection WORK_DIR [--kills 20] [--seed 0] [--config C]

Prints one JSON line: the kills, the attempts, and every check that failed (none: exact).
After every kill it checks what ``--resume`` would find: ``last_checkpoint`` names a complete
checkpoint with optimizer and schedule state as soon as the first one was written. SIGTERM
kills must leave no partial file behind; SIGKILL leftovers must be gone after the next start.
The final checkpoint must equal the unkilled run's bit for bit: weights, optimizer state,
learning-rate schedule, progress and every random generator.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import os.path as osp
import random
import signal
import sys
import time

import torch

import arsam.core.mmengine_adapter  # noqa: F401
import tests.adapter.toy  # noqa: F401
from arsam.core.training_infra.checkpoint_checks import CheckpointError, read_checkpoint
from tests.reliability.harness import fork_train, same, training_state

CONFIG = osp.join(osp.dirname(osp.abspath(__file__)), "toy_iter_config.py")
PARTIAL = ".partial-*"


def complete_pointer_target(work_dir: str) -> str | None:
    """The file ``last_checkpoint`` names, if it is complete and resumable; else None."""
    pointer = osp.join(work_dir, "last_checkpoint")
    if not osp.isfile(pointer):
        return None
    with open(pointer) as f:
        target = f.read().strip()
    try:
        checkpoint = read_checkpoint(target)
    except CheckpointError:
        return None
    if "optimizer" in checkpoint and "param_schedulers" in checkpoint:
        return target
    return None


def final_checkpoint(work_dir: str) -> dict:
    """The checkpoint ``last_checkpoint`` names at the end of a run."""
    with open(osp.join(work_dir, "last_checkpoint")) as f:
        return torch.load(f.read().strip(), map_location="cpu", weights_only=True)


def run(work_root: str, kills: int, seed: int, config: str) -> dict:
    """The experiment; returns the summary (``failures`` empty when everything held)."""
    started = time.monotonic()
    reference_dir, killed_dir = osp.join(work_root, "reference"), osp.join(work_root, "killed")
    counter = osp.join(work_root, "instants")
    os.makedirs(work_root, exist_ok=True)
    failures: list[str] = []
    code = fork_train([config, "--work-dir", reference_dir], counter_file=counter)
    if code != 0:
        return {"failures": [f"the uninterrupted run exited with {code}"]}
    with open(counter) as f:
        instants = int(f.read())
    reference = training_state(final_checkpoint(reference_dir))
    total_iters = reference["progress"][1]
    per_iter = instants / total_iters

    rng = random.Random(seed)
    done, attempts, terms = 0, 0, 0
    ever_saved = False
    progress: list[str | None] = []
    argv = [config, "--work-dir", killed_dir, "--resume"]
    while done < kills:
        attempts += 1
        sig = signal.SIGTERM if rng.random() < 0.25 else signal.SIGKILL
        # spread the remaining kills over the remaining iterations: on average a kill comes
        # halfway between this attempt's start and its share of what is left
        left = total_iters - _iteration(progress[-1] if progress else None)
        at = rng.randint(1, max(2, int(1.6 * per_iter * left / (kills - done))))
        code = fork_train(argv, kill_at=at, sig=sig)
        if code == 0:
            failures.append(f"attempt {attempts}: finished before kill {done + 1} (at {at})")
            break
        if code not in (-signal.SIGKILL, 128 + signal.SIGTERM):
            failures.append(f"attempt {attempts}: exited with {code}, not by the kill")
            break
        done += 1
        terms += sig == signal.SIGTERM
        target = complete_pointer_target(killed_dir)
        progress.append(osp.basename(target) if target else None)
        ever_saved = ever_saved or target is not None
        if ever_saved and target is None:
            failures.append(f"kill {done}: last_checkpoint names no complete checkpoint")
        if sig == signal.SIGTERM and glob.glob(osp.join(killed_dir, PARTIAL)):
            failures.append(f"kill {done}: SIGTERM left a partial file")
        if attempts > 20 * kills:
            failures.append("no progress")
            break
    code = fork_train(argv)
    if code != 0:
        failures.append(f"the last resume exited with {code}")
    else:
        failures += same(training_state(final_checkpoint(killed_dir)), reference, "final")
    leftovers = glob.glob(osp.join(killed_dir, PARTIAL))
    if leftovers:
        failures.append(f"partial files left: {leftovers}")
    mode = 0o666 & ~_umask()
    for path in glob.glob(osp.join(killed_dir, "*.pth")):
        if os.stat(path).st_mode & 0o777 != mode:
            failures.append(f"{path} has mode {oct(os.stat(path).st_mode & 0o777)}")
    return {
        "kills": done,
        "sigterm_kills": terms,
        "attempts": attempts + 1,
        "instants_per_run": instants,
        "seconds": round(time.monotonic() - started, 1),
        "resumable_after_each_kill": progress,
        "failures": failures,
    }


def _iteration(name: str | None) -> int:
    """The iteration in a checkpoint name such as iter_12.pth (0 for none)."""
    return int(name.split("_")[1].split(".")[0]) if name else 0


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def main(argv: list[str] | None = None) -> int:
    """Command line: run the experiment and print its summary as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work_root")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", default=CONFIG)
    args = parser.parse_args(argv)
    summary = run(args.work_root, args.kills, args.seed, args.config)
    print(json.dumps(summary), flush=True)
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
