"""Train any task from its config: python tools/train.py CONFIG [options]."""

from __future__ import annotations

import argparse
import sys
import warnings

# mmengine imports pkg_resources, which warns on every start; nothing for a user to act on.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

from mmengine.runner import FlexibleRunner, Runner  # noqa: E402

from arsam.tools.cli import (  # noqa: E402
    add_launch_arguments,
    load_config,
    main,
    parse_launch_arguments,
    train,
)
from arsam.tools.cli.config import (  # noqa: E402
    disable_validation,
    enable_auto_scale_lr,
    enable_visualization,
)
from arsam.tools.cli.errors import UserError  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, in MMPose's conventions."""
    parser = argparse.ArgumentParser(description="Train a model with SGD/Adam, SAM or ARSAM.")
    parser.add_argument("config", help="config file, e.g. configs/pose/hrnet_arsam.py")
    parser.add_argument("--work-dir", help="where logs and checkpoints go")
    parser.add_argument(
        "--resume",
        nargs="?",
        const="auto",
        help="resume from this checkpoint, or from the latest one in the work dir if no path",
    )
    parser.add_argument("--amp", action="store_true", help="mixed precision (fp16 GPU, bf16 CPU)")
    parser.add_argument(
        "--no-validate",
        action="store_true",
        help="train without validation (no val loop, no best checkpoint)",
    )
    parser.add_argument(
        "--auto-scale-lr",
        action="store_true",
        help="scale the learning rate by the real batch size / auto_scale_lr.base_batch_size",
    )
    parser.add_argument(
        "--show-dir", help="save validation images with their predictions drawn into this folder"
    )
    parser.add_argument(
        "--show", action="store_true", help="show validation predictions in a window"
    )
    parser.add_argument(
        "--interval", type=int, default=1, help="draw every N-th validation batch (default 1)"
    )
    parser.add_argument(
        "--wait-time", type=float, default=1.0, help="seconds each --show window stays open"
    )
    add_launch_arguments(parser)
    return parse_launch_arguments(parser, argv)


def run(argv: list[str] | None = None) -> Runner | FlexibleRunner:
    """Load the config, apply the command line's choices and train; returns the runner."""
    args = parse_args(argv)
    cfg = load_config(
        args.config,
        work_dir=args.work_dir,
        resume=args.resume,
        amp=args.amp,
        cfg_options=args.cfg_options,
        launcher=args.launcher,
    )
    if args.no_validate and (args.show_dir is not None or args.show):
        raise UserError(
            "--show-dir and --show draw the validation predictions during training, and "
            "--no-validate turns validation off, so there would be nothing to draw. Leave out "
            "--no-validate, or the drawing flags (draw a checkpoint's test predictions with "
            "tools/test.py CONFIG CKPT --show-dir DIR)."
        )
    enable_visualization(cfg, args.show_dir, args.show, args.wait_time, args.interval)
    if args.no_validate:
        disable_validation(cfg)
    if args.auto_scale_lr:
        enable_auto_scale_lr(cfg)
    return train(cfg)


if __name__ == "__main__":
    sys.exit(main(run))
