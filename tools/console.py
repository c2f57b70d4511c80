"""The console scripts ``arsam-train`` and ``arsam-test`` (tools/train.py and tools/test.py)."""

from __future__ import annotations


def train() -> int:
    """Run ``arsam-train CONFIG [options]``, the command line of tools/train.py."""
    from arsam.tools.train import main, run  # train.py quiets mmengine's start-up warning first

    return main(run)


def test() -> int:
    """Run ``arsam-test CONFIG CHECKPOINT [options]``, the command line of tools/test.py."""
    from arsam.tools.test import main, run  # test.py quiets mmengine's start-up warning first

    return main(run)
