"""Evaluate a checkpoint: python tools/test.py CONFIG CHECKPOINT [options]."""

from __future__ import annotations

import argparse
import sys
import warnings

# mmengine imports pkg_resources, which warns on every start; nothing for a user to act on.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

from tools.cli import (  # noqa: E402
    add_launch_arguments,
    load_config,
    main,
    parse_launch_arguments,
    test,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, in MMPose's conventions."""
    parser = argparse.ArgumentParser(description="Evaluate a trained checkpoint.")
    parser.add_argument("config", help="config file the checkpoint was trained with")
    parser.add_argument("checkpoint", help="checkpoint file (.pth)")
    parser.add_argument("--work-dir", help="where the evaluation logs go")
    add_launch_arguments(parser)
    return parse_launch_arguments(parser, argv)


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
