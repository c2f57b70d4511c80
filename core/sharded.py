"""Sharded parameters (torch FSDP2's DTensors): global norms from local shards, shard-wise copies.

FSDP2 (``torch.distributed.fsdp.fully_shard``) turns every parameter, its gradient and
every ``zeros_like`` buffer into a DTensor whose local shard lives on one rank. torch's
foreach arithmetic works on such lists shard by shard, so the optimizers' element-wise
maths needs nothing here. Two operations need help: a norm (``_foreach_norm`` with a
summation dtype has no DTensor strategy) and a copy (``_foreach_copy_`` has none). A norm
is computed on the local shards, its square all-reduced over the mesh dimensions the
tensors are sharded along (not over the replicated ones, as HSDP's), and returned as a
plain 0-dim tensor that is the same on every rank: the statistics the rules read and
decide with are global, and identical everywhere.

Nothing imports ``torch.distributed.tensor`` here: a process that never created a
DTensor has none to detect, and the check is one dictionary lookup.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence

import torch
from torch import Tensor


def is_sharded(tensor: Tensor) -> bool:
    """Whether ``tensor`` is a DTensor (a parameter, gradient or buffer of an FSDP2 model)."""
    module = sys.modules.get("torch.distributed.tensor")
    return module is not None and isinstance(tensor, module.DTensor)


def local_shards(tensors: Sequence[Tensor]) -> list[Tensor]:
    """This rank's shard of each DTensor (sharing its storage), plain tensors as they are."""
    return [t.to_local() if is_sharded(t) else t for t in tensors]


def copy_shards(out: Sequence[Tensor], source: Sequence[Tensor]) -> None:
    """out := source, shard by shard (both sharded alike: buffers made ``*_like`` the source)."""
    torch._foreach_copy_(local_shards(out), local_shards(source))


def global_l2_norm(
    tensors: Sequence[Tensor], local_norm: Callable[[list[Tensor]], Tensor]
) -> Tensor:
    """The L2 norm of ``tensors`` over all ranks' shards: a plain 0-dim tensor, the same on each.

    ``local_norm`` gives the norm of a list of plain tensors. Plain tensors among
    ``tensors`` are taken as replicated (counted once). One all-reduce of one scalar per
    sharded mesh dimension and per distinct sharding among the tensors (FSDP2: one).
    """
    import torch.distributed as dist

    by_sharding: dict[tuple, list[Tensor]] = {}
    for t in tensors:
        key = _sharded_dimensions(t) if is_sharded(t) else ()
        by_sharding.setdefault(key, []).append(t.to_local() if is_sharded(t) else t)
    squares = []
    for dimensions, local in by_sharding.items():
        square = local_norm(local).square()
        for mesh, dim in dimensions:
            dist.all_reduce(square, group=mesh.get_group(dim))
        squares.append(square)
    device = squares[0].device
    wide = functools.reduce(torch.promote_types, (s.dtype for s in squares))
    return torch.stack([s.to(device, wide) for s in squares]).sum().sqrt()


def _sharded_dimensions(tensor: Tensor) -> tuple:
    """The (mesh, mesh dimension) pairs ``tensor`` is sharded along; a paragraph for Partial."""
    mesh, dimensions = tensor.device_mesh, []
    for dim, placement in enumerate(tensor.placements):
        if placement.is_shard():
            dimensions.append((mesh, dim))
        elif not placement.is_replicate():
            raise ValueError(
                f"a parameter or gradient has the DTensor placement {placement} (pending "
                "reduction), whose global norm cannot be taken from its shards: the two-pass "
                "optimizers support parameters sharded (Shard) or replicated (Replicate) over "
                "the mesh, as torch FSDP2 (fully_shard) and HSDP make them. Reduce the "
                "gradients before the optimizer step (let FSDP2 reduce them), or use DDP."
            )
    return tuple(dimensions)
