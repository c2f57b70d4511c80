"""Evaluate a checkpoint: python tools/test.py CONFIG CHECKPOINT [options]."""

from __future__ import annotations

import argparse
import os.path as osp
import sys
import tempfile
import warnings
from typing import Any

# mmengine imports pkg_resources, which warns on every start; nothing for a user to act on.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

from mmengine.dist import is_main_process  # noqa: E402

from arsam.core.training_infra.checkpoint_checks import ALLOW_NONFINITE_KEY  # noqa: E402
from arsam.tools.cli import (  # noqa: E402
    add_launch_arguments,
    load_config,
    main,
    parse_launch_arguments,
    test,
)
from arsam.tools.cli.config import (  # noqa: E402
    METRIC_FILE_SUFFIXES,
    add_dump_metric,
    check_output_file,
    enable_pose_badcase,
    enable_visualization,
    imports_classification,
)
from arsam.tools.cli.errors import UserError  # noqa: E402
from arsam.tools.cli.runs import write_metrics  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, in MMPose's conventions."""
    parser = argparse.ArgumentParser(description="Evaluate a trained checkpoint.")
    parser.add_argument("config", help="config file the checkpoint was trained with")
    parser.add_argument("checkpoint", help="checkpoint file (.pth)")
    parser.add_argument("--work-dir", help="where the evaluation logs go")
    parser.add_argument(
        "--out", help="write the metrics to this file (.json, .yaml or .pkl, by its suffix)"
    )
    parser.add_argument(
        "--dump", help="pickle every prediction to this .pkl file (MMEngine's DumpResults)"
    )
    parser.add_argument(
        "--show-dir", help="save each test image with its predictions drawn into this folder"
    )
    parser.add_argument(
        "--show", action="store_true", help="show each test image with its predictions in a window"
    )
    parser.add_argument(
        "--wait-time", type=float, default=1.0, help="seconds each --show window stays open"
    )
    parser.add_argument(
        "--interval", type=int, default=1, help="draw every N-th test sample (default 1: all)"
    )
    parser.add_argument(
        "--badcase",
        action="store_true",
        help="analyse the worst predictions: MMPose's BadCaseAnalysisHook on pose configs; on "
        "classification configs the --badcase-topk worst, drawn into <work dir>/badcase",
    )
    parser.add_argument(
        "--badcase-topk", type=int, default=20, help="classification --badcase: how many (20)"
    )
    parser.add_argument(
        "--allow-nonfinite",
        action="store_true",
        help="evaluate a checkpoint whose weights hold inf or NaN (refused otherwise)",
    )
    add_launch_arguments(parser)
    return parse_launch_arguments(parser, argv)


def run(argv: list[str] | None = None) -> dict[str, Any]:
    """Load the config, apply the command line's choices and evaluate; returns the metrics."""
    args = parse_args(argv)
    cfg = load_config(
        args.config, work_dir=args.work_dir, cfg_options=args.cfg_options, launcher=args.launcher
    )
    if args.out is not None:
        check_output_file(args.out, "--out", METRIC_FILE_SUFFIXES)
    if args.dump is not None:
        add_dump_metric(cfg, args.dump)
    enable_visualization(cfg, args.show_dir, args.show, args.wait_time, args.interval)
    if args.allow_nonfinite:
        cfg[ALLOW_NONFINITE_KEY] = True
    if args.badcase and not imports_classification(cfg):
        enable_pose_badcase(cfg, args.show, args.wait_time, args.interval)
        return _finish(test(cfg, args.checkpoint), args)
    if not args.badcase:
        return _finish(test(cfg, args.checkpoint), args)
    if args.badcase_topk < 1:
        raise UserError(f"--badcase-topk must be 1 or more, got {args.badcase_topk}.")
    with tempfile.TemporaryDirectory() as folder:
        dump = args.dump or osp.join(folder, "predictions.pkl")
        if args.dump is None:
            add_dump_metric(cfg, dump)
        metrics = test(cfg, args.checkpoint)
        if is_main_process():
            # imported here: the analysis tools draw headless (Agg), which --show must not get
            from arsam.tools.analysis_tools.analyze_results import write_bad_cases
            from arsam.tools.analysis_tools.class_predictions import read_predictions

            out_dir = osp.join(cfg.work_dir, "badcase")
            write_bad_cases(cfg, read_predictions(dump), out_dir, args.badcase_topk)
    return _finish(metrics, args)


def _finish(metrics: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Write --out and print the metrics."""
    if args.out is not None:
        write_metrics(metrics, args.out)
    print(metrics)
    return metrics


if __name__ == "__main__":
    sys.exit(main(run))
