"""Export a trained quantized network (config + checkpoint) to QCDQ ONNX and summarise the graph.

    python -m arsam.tasks.quantization.export_checkpoint CONFIG CHECKPOINT OUTPUT.onnx

The graph takes normalised images (the data preprocessor's mean/std already
applied) and returns class logits.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import onnx
import torch
from mmengine.config import Config
from mmengine.registry import MODELS
from torch import nn

from arsam.core.training_infra.checkpoint_loading import load_checkpoint_safely

from .export import export_qcdq
from .qcdq_graph import quantized_tensors


def build_trained_network(config: str | Path, checkpoint: str | Path) -> nn.Module:
    """The network (the classifier's backbone) of ``config`` with the weights of ``checkpoint``."""
    cfg = Config.fromfile(str(config))
    model_cfg = cfg.model.copy()
    if cfg.get("data_preprocessor") is not None:
        model_cfg.setdefault("data_preprocessor", cfg.data_preprocessor)
    model_cfg.get("backbone", {}).pop("float_checkpoint", None)
    model = MODELS.build(model_cfg)
    state = load_checkpoint_safely(str(checkpoint))
    model.load_state_dict(state.get("state_dict", state))
    return getattr(model, "backbone", model).eval()


def summary(graph: onnx.ModelProto) -> str:
    """One line per kind of quantized tensor: how many, and their integer range."""
    kinds = Counter(
        ("weight" if q.is_weight else "activation", q.bit_width, q.low, q.high)
        for q in quantized_tensors(graph)
    )
    return "\n".join(
        f"{count:3d} {kind}s at {bits} bits, integers in [{low}, {high}]"
        for (kind, bits, low, high), count in sorted(kinds.items())
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("checkpoint")
    parser.add_argument("output", help="where the .onnx file goes")
    parser.add_argument("--size", type=int, default=32, help="input height and width")
    parser.add_argument("--dynamo", action="store_true", help="torch's newer exporter, opset 18")
    args = parser.parse_args(argv)
    network = build_trained_network(args.config, args.checkpoint)
    channels = Config.fromfile(args.config).model.backbone.get("in_channels", 3)
    example = torch.zeros(1, channels, args.size, args.size)
    graph = export_qcdq(network, example, args.output, dynamo=args.dynamo)
    print(f"wrote {args.output}\n{summary(graph)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
