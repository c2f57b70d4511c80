"""Test plugin for launched FlexibleRunner runs: the runner and strategy each rank used."""

from __future__ import annotations

import os

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module(force=True)
class RecordRunnerHook(Hook):
    """Writes ``<runner class> <strategy class>`` to work_dir/runner<rank>.txt after training."""

    def after_train(self, runner) -> None:
        """Write this rank's runner and strategy."""
        strategy = getattr(runner, "strategy", None)
        text = f"{type(runner).__name__} {type(strategy).__name__ if strategy else None}"
        with open(os.path.join(runner.work_dir, f"runner{runner.rank}.txt"), "w") as f:
            f.write(text)
