"""Checks of the checkpoint an FSDP2Strategy run starts from, before any tensor is loaded.

A sharded checkpoint (``epoch_N.pth`` with its ``epoch_N.pth.shards`` directory) is
compared with the model through the shards' DCP metadata (names and global shapes), so no
weight is read twice; a whole-weights checkpoint through its tensors' shapes.
"""

from __future__ import annotations

import os
from typing import Any

from torch import nn

from ..training_infra.checkpoint_checks import CheckpointError, raise_unless_fits, state_dict_of
from .fsdp2_strategy import SHARDS_KEY


def check_fits_sharded_model(model: nn.Module, checkpoint: dict[str, Any], path: str) -> None:
    """CheckpointError unless ``checkpoint``'s weights are those of the sharded ``model``."""
    shards = checkpoint.get(SHARDS_KEY)
    if shards is None:
        saved = {k: tuple(v.shape) for k, v in state_dict_of(checkpoint).items()}
    else:
        folder = os.path.dirname(os.path.abspath(path))
        saved = _shard_shapes(os.path.join(folder, shards["directory"]))
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    raise_unless_fits(
        path,
        [(k, saved[k], expected[k]) for k in expected if k in saved and saved[k] != expected[k]],
        [k for k in expected if k not in saved],
        [k for k in saved if k not in expected],
    )


def _shard_shapes(directory: str) -> dict[str, tuple[int, ...]]:
    """The model tensors' names and global shapes recorded in a shards directory."""
    import torch.distributed.checkpoint as dcp

    try:
        metadata = dcp.FileSystemReader(directory).read_metadata()
    except (OSError, ValueError, RuntimeError) as error:
        raise CheckpointError(
            f"the sharded weights of this checkpoint ({directory!r}) cannot be read "
            f"({str(error).splitlines()[0] if str(error) else type(error).__name__}): the "
            "directory was moved, deleted or damaged. Keep each epoch_N.pth next to its "
            "epoch_N.pth.shards directory, or resume from another checkpoint of the run."
        ) from None
    return {
        key.removeprefix("model."): tuple(getattr(entry, "size", ()))
        for key, entry in metadata.state_dict_metadata.items()
        if key.startswith("model.")
    }
