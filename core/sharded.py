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
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .durable_files import fsync_directory


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


# ------------------------------------------------------------------ checkpoints
SHARDED_META = "two_pass_meta.pt"


def save_sharded(path: str | os.PathLike, model: nn.Module, opt: Any) -> None:
    """Save an FSDP2 model and its optimizer to the directory ``path`` with torch DCP, atomically.

    Every rank calls it. DTensor entries (weights, PSF, momentum) are written shard by shard
    with ``torch.distributed.checkpoint``; the rest of the optimizer's state (counters,
    settings, the rule's schedule, replicated scalars: the same on every rank) is written by
    rank 0. Everything goes to ``path.partial`` first, which replaces ``path`` once every
    rank has finished, so an interrupted save leaves the previous checkpoint in place.
    """
    import torch.distributed as dist

    skeleton, sharded = split_sharded(opt.state_dict())
    meta = {
        "optimizer": skeleton,
        "sharded": sharded_index(sharded),
        "world_size": dist.get_world_size() if dist.is_initialized() else 1,
    }
    write_shards(path, model.state_dict(), sharded, meta)


def load_sharded(path: str | os.PathLike, model: nn.Module, opt: Any) -> None:
    """Resume an FSDP2 model and its optimizer from a ``save_sharded`` directory, in place.

    Every rank calls it, with the model sharded (``fully_shard``) and the optimizer built as
    for the saved run. The optimizer's identity and settings are checked before any tensor is
    read. The world size may differ from the saved one: DCP reshards every DTensor.
    """
    path = os.fspath(path)
    meta_file = os.path.join(path, SHARDED_META)
    if not os.path.isfile(meta_file):
        raise FileNotFoundError(
            f"{path} is not a complete sharded checkpoint ({SHARDED_META} is missing): pass the "
            "directory that save_sharded wrote; a '.partial' directory is an interrupted save "
            "and cannot be resumed"
        )
    meta = torch.load(meta_file, weights_only=True)
    skeleton = meta["optimizer"]
    opt.check_state_dict(skeleton)
    params = [p for group in opt.param_groups for p in group["params"]]
    targets = empty_shards(meta["sharded"], params, path)
    read_shards(path, model, targets)
    opt.load_state_dict(join_sharded(skeleton, targets))


def write_shards(
    path: str | os.PathLike,
    model_state: dict[str, Any],
    sharded: dict[str, tuple[int, Tensor]],
    meta: dict[str, Any] | None = None,
) -> None:
    """Write a model's state and sharded optimizer tensors to the directory ``path``, atomically.

    Every rank calls it. torch DCP writes to ``path.partial``; rank 0 adds ``meta`` (if any)
    as ``SHARDED_META`` and renames the directory to ``path`` once every rank has finished,
    keeping the previous ``path`` until then.
    """
    import torch.distributed as dist
    import torch.distributed.checkpoint as dcp

    path = os.fspath(path)
    partial, previous = f"{path}.partial", f"{path}.previous"
    rank = dist.get_rank() if dist.is_initialized() else 0
    if rank == 0:
        shutil.rmtree(partial, ignore_errors=True)
    _barrier()
    dcp.save(
        {"model": model_state, "optim": {k: v for k, (_, v) in sharded.items()}},
        storage_writer=dcp.FileSystemWriter(partial),
    )
    if rank == 0:
        if meta is not None:
            with open(os.path.join(partial, SHARDED_META), "wb") as f:
                torch.save(meta, f)
                f.flush()
                os.fsync(f.fileno())
        if os.path.exists(path):
            shutil.rmtree(previous, ignore_errors=True)
            os.replace(path, previous)
        os.replace(partial, path)
        shutil.rmtree(previous, ignore_errors=True)
        fsync_directory(os.path.dirname(os.path.abspath(path)))
    _barrier()


def read_shards(path: str | os.PathLike, model: nn.Module, targets: dict[str, Tensor]) -> None:
    """Load ``path``'s weights into ``model`` and its optimizer tensors into ``targets``."""
    import torch.distributed.checkpoint as dcp

    model_state = model.state_dict()
    dcp.load({"model": model_state, "optim": targets}, checkpoint_id=os.fspath(path))
    model.load_state_dict(model_state)


def sharded_index(sharded: dict[str, tuple[int, Tensor]]) -> dict[str, tuple[int, str, list]]:
    """For each sharded optimizer entry: its parameter index, dtype and global shape."""
    return {k: (i, str(v.dtype), list(v.shape)) for k, (i, v) in sharded.items()}


def empty_shards(
    index: dict[str, tuple[int, str, list]], params: Sequence[Tensor], path: str
) -> dict[str, Tensor]:
    """An empty DTensor for each entry of ``index``, sharded like its parameter, to load into."""
    targets = {}
    for key, (position, dtype, shape) in index.items():
        like = params[position]
        if not is_sharded(like):
            raise ValueError(
                f"the checkpoint {path} holds sharded optimizer state, but parameter {position} "
                "of this optimizer is not a DTensor: call fully_shard on the model before "
                "building the optimizer, as in the saved run, then load it"
            )
        from torch.distributed.tensor import empty

        targets[key] = empty(
            shape,
            dtype=getattr(torch, dtype.removeprefix("torch.")),
            device_mesh=like.device_mesh,
            placements=like.placements,
        )
    return targets


def split_sharded(state: Any, path: tuple = ()) -> tuple[Any, dict[str, tuple[int, Tensor]]]:
    """The optimizer state with each DTensor replaced by None, and the DTensors by flat key.

    Every sharded entry sits at ``...["state"][index][name]``; it is returned with its
    parameter index.
    """
    if isinstance(state, dict):
        skeleton, sharded = {}, {}
        for key, value in state.items():
            skeleton[key], inner = split_sharded(value, (*path, key))
            sharded.update(inner)
        return skeleton, sharded
    if is_sharded(state):
        if len(path) < 3 or path[-3] != "state" or not isinstance(path[-2], int):
            raise ValueError(
                f"the optimizer state entry {'/'.join(map(str, path))} is a DTensor outside the "
                "per-parameter state: sharded checkpoints hold sharded tensors kept per "
                "parameter only"
            )
        return None, {"/".join(map(str, path)): (path[-2], state)}
    return state, {}


def join_sharded(skeleton: Any, tensors: dict[str, Tensor], path: tuple = ()) -> Any:
    """The state ``split_sharded`` took apart, with the loaded DTensors back in place."""
    key = "/".join(map(str, path))
    if key in tensors:
        return tensors[key]
    if isinstance(skeleton, dict):
        return {k: join_sharded(v, tensors, (*path, k)) for k, v in skeleton.items()}
    return skeleton


def _barrier() -> None:
    """Wait for every rank (nothing to wait for without a process group)."""
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()
