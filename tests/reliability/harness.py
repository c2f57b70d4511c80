"""Run tools/train.py's command line in forked children and kill them at chosen instants.

Each child is a fork of a process that has imported torch, MMEngine and the project once,
so a run costs no start-up time. A ``KillSwitch`` counts the instants where a kill is most
likely to hurt (every training iteration, every data write before its rename, every
rename, every deletion) and kills its own process at the one it was given, with SIGKILL
(nothing can clean up) or SIGTERM (the tool unwinds).
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

import torch
import torchvision  # noqa: F401  (imported once here rather than by every child's Runner)
from mmengine.config import Config
from mmengine.hooks import Hook

from arsam.tools.cli import main
from arsam.tools.cli.config import load_config
from arsam.tools.cli.runs import train


def cache_config_text() -> None:
    """Format each config once: MMEngine re-formats it (yapf, ~0.3 s) into every checkpoint."""
    original = Config.pretty_text.fget
    if getattr(original, "cached", False):
        return

    def pretty_text(self: Config) -> str:
        cache = self.__dict__.setdefault("_harness_pretty_text", {})
        key = id(self._cfg_dict)
        if key not in cache:
            cache[key] = original(self)
        return cache[key]

    pretty_text.cached = True
    Config.pretty_text = property(pretty_text)


class KillSwitch:
    """Counts risky instants in this process and kills it at instant ``at`` (1-based)."""

    def __init__(
        self,
        at: int | None,
        sig: int = signal.SIGKILL,
        counter_file: str | None = None,
        iteration: int | None = None,
    ) -> None:
        self.at, self.sig, self.count, self.counter_file = at, sig, 0, counter_file
        self.iteration = iteration

    def after_iteration(self, iteration: int) -> None:
        """Die after training iteration ``self.iteration`` (1-based), if one was given."""
        if iteration == self.iteration:
            os.kill(os.getpid(), self.sig)

    def event(self) -> None:
        """One risky instant: die if it is the chosen one."""
        self.count += 1
        if self.counter_file:
            with open(self.counter_file, "w") as f:
                f.write(str(self.count))
        if self.at is not None and self.count == self.at:
            os.kill(os.getpid(), self.sig)

    def install(self) -> None:
        """Count renames, deletions and synced writes of this process, and every iteration."""
        for name in ("replace", "remove", "unlink", "fsync"):
            original = getattr(os, name)
            setattr(os, name, self._counted(original))
        switch = self

        class Instants(Hook):
            priority = "VERY_HIGH"

            def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
                switch.event()

            def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
                switch.event()
                switch.after_iteration(runner.iter + 1)

        from arsam.tools.cli import runs

        build = runs.build_runner

        def build_with_instants(cfg):
            runner = build(cfg)
            runner.register_hook(Instants())
            return runner

        runs.build_runner = build_with_instants

    def _counted(self, function: Callable) -> Callable:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.event()
            return function(*args, **kwargs)

        return counted


def fork_train(
    argv: list[str],
    kill_at: int | None = None,
    sig: int = signal.SIGKILL,
    counter_file: str | None = None,
    kill_after_iteration: int | None = None,
) -> int:
    """Run ``tools/train.py ARGV`` in a forked child; its exit code (negative: killed by signal)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            torch.set_num_threads(1)
            cache_config_text()
            KillSwitch(kill_at, sig, counter_file, kill_after_iteration).install()
            code = main(lambda: train(load_config(**parse(argv))))
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def parse(argv: list[str]) -> dict[str, Any]:
    """tools/train.py's arguments as load_config's keywords."""
    from arsam.tools.train import parse_args

    args = parse_args(argv)
    return dict(
        path=args.config,
        work_dir=args.work_dir,
        resume=args.resume,
        amp=args.amp,
        cfg_options=args.cfg_options,
        launcher=args.launcher,
    )


def same(a: Any, b: Any, where: str = "") -> list[str]:
    """Where two nested checkpoint structures differ (tensors compared bit for bit)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{where}: keys {sorted(map(str, a.keys() ^ b.keys()))}"]
        return [d for k in a for d in same(a[k], b[k], f"{where}.{k}")]
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        if len(a) != len(b):
            return [f"{where}: lengths {len(a)} != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in same(x, y, f"{where}[{i}]")]
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        equal = a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)
        return [] if equal else [f"{where}: tensors differ"]
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return []
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def training_state(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """What an exact resume must reproduce: weights, optimizer, schedules, progress, generators."""
    meta = checkpoint["meta"]
    return {
        "state_dict": checkpoint["state_dict"],
        "optimizer": checkpoint["optimizer"],
        "param_schedulers": checkpoint.get("param_schedulers"),
        "progress": (meta["epoch"], meta["iter"]),
        "random_states": meta.get("random_states"),
    }
