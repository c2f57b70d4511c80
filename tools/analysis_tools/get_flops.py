"""FLOPs and parameters of a config's model (MMEngine's get_model_complexity_info).

python tools/analysis_tools/get_flops.py CONFIG [--input-shape [C] H W] [--device cpu]
    [-b BATCH_SIZE] [--cfg-options ...]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

# mmengine imports pkg_resources, which warns on every start; nothing for a user to act on.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

import torch  # noqa: E402
from mmengine.analysis import get_model_complexity_info  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import DATASETS, MODELS  # noqa: E402

from arsam.tools.analysis_tools.tool_config import dataset_section, load_scoped_config  # noqa: E402
from arsam.tools.cli.errors import UserError, config_errors, main  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, in MMPose's conventions."""
    parser = argparse.ArgumentParser(description="FLOPs and parameters of a config's model.")
    parser.add_argument("config", help="config file, e.g. configs/classification/digits_arsam.py")
    parser.add_argument(
        "--input-shape",
        type=int,
        nargs="+",
        help="S (3 x S x S), H W (3 x H x W) or C H W; default: the codec's input size, else "
        "the shape of the first test sample",
    )
    parser.add_argument(
        "--cfg-options", nargs="+", action=DictAction, help="override config entries: key=value"
    )
    parser.add_argument(
        "--device", default="cpu", help="device the model runs on, e.g. cpu or cuda:0 (cpu)"
    )
    parser.add_argument(
        "--batch-size", "-b", type=int, default=1, help="inputs per forward pass (default 1)"
    )
    parser.add_argument(
        "--show-arch-info", "-s", action="store_true", help="also print the model with its costs"
    )
    return parser.parse_args(argv)


def input_shape_from(shape: list[int] | None, cfg: Config) -> tuple[int, ...]:
    """The (C, H, W) of one input: given, from the pose codec, or from the first test sample."""
    if shape is not None:
        if len(shape) == 1:
            return (3, shape[0], shape[0])
        if len(shape) == 2:
            return (3, *shape)
        if len(shape) == 3:
            return tuple(shape)
        raise UserError(
            f"--input-shape takes 1 to 3 numbers (S, H W or C H W), got {len(shape)}: {shape}."
        )
    codec = cfg.get("codec")
    if isinstance(codec, dict) and codec.get("input_size"):
        width, height = codec["input_size"][:2]
        return (3, int(height), int(width))
    try:
        sample = DATASETS.build(dataset_section(cfg, "test"))[0]
        return tuple(sample["inputs"].shape)
    except UserError:
        raise
    except Exception as error:  # any dataset problem: ask for the shape instead
        raise UserError(
            f"could not read the input shape from the config's first test sample ({error}). "
            "Give it with --input-shape C H W, e.g. --input-shape 3 32 32."
        ) from error


def check_device(name: str) -> torch.device:
    """``--device`` as a torch device; UserError if it is malformed or absent here."""
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError) as error:
        raise UserError(f"--device {name!r} is not a device name; give cpu or cuda:0.") from error
    if device.type == "cuda" and (
        not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()
    ):
        found = torch.cuda.device_count() if torch.cuda.is_available() else 0
        raise UserError(
            f"--device {name!r}: this machine has {found} usable CUDA device(s). Count on the "
            "CPU with --device cpu (the FLOPs do not depend on the device)."
        )
    return device


def complexity(
    cfg: Config,
    shape: tuple[int, ...],
    show_arch: bool,
    device: str = "cpu",
    batch_size: int = 1,
) -> dict[str, Any]:
    """MMEngine's complexity report of the config's model on a random batch of ``shape``."""
    if batch_size < 1:
        raise UserError(f"--batch-size must be 1 or more, got {batch_size}.")
    target = check_device(device)
    with config_errors("model"):
        model = MODELS.build(cfg.model)
    if hasattr(model, "_forward"):  # MMPose's estimators: the tensor path without data samples
        model.forward = model._forward
    model.to(target).eval()
    inputs = (torch.randn(batch_size, *shape, device=target),)
    with torch.no_grad():
        return get_model_complexity_info(model, inputs=inputs, show_arch=show_arch)


def run(argv: list[str] | None = None) -> dict[str, Any]:
    """Print the FLOPs, the parameters and the per-module table; returns MMEngine's report."""
    args = parse_args(argv)
    cfg = load_scoped_config(args.config, args.cfg_options)
    shape = input_shape_from(args.input_shape, cfg)
    result = complexity(cfg, shape, args.show_arch_info, args.device, args.batch_size)
    line = "=" * 30
    print(
        f"{line}\nInput shape: {(args.batch_size, *shape)}\nFlops: {result['flops_str']} "
        f"({result['flops']} multiply-adds)\nParams: {result['params_str']} "
        f"({result['params']})\n{line}"
    )
    print(result["out_table"])
    if args.show_arch_info:
        print(result["out_arch"])
    print(
        "FLOPs are counted as multiply-adds of the operators MMEngine's analyser knows; check "
        "the table for modules it skipped before quoting the number."
    )
    return result


if __name__ == "__main__":
    sys.exit(main(run))
