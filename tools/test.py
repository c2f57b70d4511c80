"""Evaluate a checkpoint: python tools/test.py CONFIG CHECKPOINT [options]."""

from __future__ import annotations

import argparse
import os
import sys
import warnings

# mmengine imports pkg_resources, which warns on every start; nothing for a user to act on.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

from mmengine.config import DictAction  # noqa: E402

from core.mmengine_adapter.entry import load_config, main, test  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, in MMPose's conventions."""
    parser = argparse.ArgumentParser(description="Evaluate a trained checkpoint.")
    parser.add_argument("config", help="config file the checkpoint was trained with")
    parser.add_argument("checkpoint", help="checkpoint file (.pth)")
    parser.add_argument("--work-dir", help="where the evaluation logs go")
    parser.add_argument(
        "--cfg-options", nargs="+", action=DictAction, help="override config entries: key=value"
    )
    parser.add_argument("--launcher", choices=["none", "pytorch"], default="none")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault("LOCAL_RANK", str(args.local_rank))
    return args


def run(argv: list[str] | None = None) -> None:
    """Load the config and evaluate the checkpoint."""
    args = parse_args(argv)
    cfg = load_config(
        args.config, work_dir=args.work_dir, cfg_options=args.cfg_options, launcher=args.launcher
    )
    metrics = test(cfg, args.checkpoint)
    print(metrics)


if __name__ == "__main__":
    sys.exit(main(run))
