"""One safe reader behind every checkpoint MMEngine loads for a run, whatever its scheme.

MMEngine picks a checkpoint loader by the path's scheme (``CheckpointLoader``). Its own loaders
call ``torch.load`` without ``weights_only`` (for http(s), ``torch.hub.load_state_dict_from_url``,
whose default is ``weights_only=False``), so a file fetched from a URL could run code through
``--resume URL``, ``load_from=URL`` or ``init_cfg=dict(type='Pretrained', checkpoint=URL)``.
``install()`` replaces the loader of every scheme MMEngine knows with one that ends in
``read_checkpoint``: torch's weights-only unpickler with the project's allow-list, and the
project's checks on the file:

- a local path is read where it is;
- ``http://`` and ``https://`` are downloaded once into torch hub's cache
  (``$TORCH_HOME/hub/checkpoints``, the file MMEngine and torch.hub use) and the cached file is
  read safely at every use, so a file that reached the cache by other means runs nothing either;
- ``torchvision://``, ``modelzoo://``, ``open-mmlab://``, ``openmmlab://`` and ``mmcls://``
  resolve to their URLs (or files under MMEngine's home) as MMEngine resolves them;
- ``s3://``, ``petrel://`` and ``pavi://`` are fetched to a temporary file first.

Every problem is a ``CheckpointError`` paragraph (a refused file, a failed download). Files are
read into CPU memory; MMEngine then moves the tensors where the model and optimizer live.
"""

from __future__ import annotations

import os
import os.path as osp
import tempfile
from collections.abc import Callable
from typing import Any
from urllib.error import URLError
from urllib.parse import urlparse

import torch
from mmengine.dist import barrier, get_dist_info
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

from .checkpoint_checks import CheckpointError, read_checkpoint

URL_PREFIXES = ("http://", "https://")


def is_remote(source: str) -> bool:
    """Whether ``source`` names a checkpoint by a scheme (URL, model zoo, object store)."""
    return "://" in str(source) and not osp.isfile(str(source))


def download_cache_path(url: str) -> str:
    """Where torch hub (and so MMEngine) keeps the download of ``url``."""
    name = osp.basename(urlparse(url).path) or "checkpoint.pth"
    return osp.join(torch.hub.get_dir(), "checkpoints", name)


def cached_download(url: str) -> str:
    """The local copy of ``url`` in torch hub's cache, downloaded first if it is not there.

    In a distributed run rank 0 downloads while the others wait, then each uses the cache.
    """
    cached = download_cache_path(url)
    rank, world_size = get_dist_info()
    if rank == 0:
        _download_once(url, cached)
    if world_size > 1:
        barrier()
        if rank > 0:
            _download_once(url, cached)  # another host's cache
    return cached


def _download_once(url: str, cached: str) -> None:
    if osp.isfile(cached):
        return
    os.makedirs(osp.dirname(cached), exist_ok=True)
    try:  # torch writes a temporary file and renames it: no half file is ever cached
        torch.hub.download_url_to_file(url, cached, progress=False)
    except (URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        raise CheckpointError(
            f"checkpoint {url!r} could not be downloaded ({reason}). Check the address and the "
            f"network, or download the file yourself and give its local path (it would be "
            f"cached as {cached})."
        ) from None


def load_from_local(filename: str, map_location: Any = None) -> dict[str, Any]:
    """A local checkpoint, read safely."""
    return read_checkpoint(osp.expanduser(filename))


def load_from_http(filename: str, map_location: Any = None) -> dict[str, Any]:
    """A checkpoint at an http(s) URL: downloaded once into the cache, read safely every time."""
    return read_checkpoint(cached_download(filename))


def load_from_torchvision(filename: str, map_location: Any = None) -> dict[str, Any]:
    """``torchvision://NAME`` (or ``modelzoo://NAME``): torchvision's weights for NAME."""
    name = filename.split("://", 1)[1]
    return load_from_http(_zoo_entry(mmengine_checkpoint.get_torchvision_models(), name, filename))


def load_from_openmmlab(filename: str, map_location: Any = None) -> dict[str, Any]:
    """``open-mmlab://NAME``: OpenMMLab's weights for NAME (a URL or a file in MMEngine's home)."""
    name = filename.split("://", 1)[1]
    name = mmengine_checkpoint.get_deprecated_model_names().get(name, name)
    location = _zoo_entry(mmengine_checkpoint.get_external_models(), name, filename)
    if location.startswith(URL_PREFIXES):
        return load_from_http(location)
    return load_from_local(osp.join(mmengine_checkpoint._get_mmengine_home(), location))


def load_from_mmcls(filename: str, map_location: Any = None) -> dict[str, Any]:
    """``mmcls://NAME``: MMClassification's weights for NAME, renamed as MMEngine renames them."""
    name = filename.split("://", 1)[1]
    url = _zoo_entry(mmengine_checkpoint.get_mmcls_models(), name, filename)
    return mmengine_checkpoint._process_mmcls_checkpoint(load_from_http(url))


def load_from_ceph(filename: str, map_location: Any = None) -> dict[str, Any]:
    """``s3://`` or ``petrel://``: fetched through MMEngine's petrel backend, read safely."""
    from mmengine.fileio import get_file_backend

    data = get_file_backend(filename, backend_args={"backend": "petrel"}).get(filename)
    return _read_fetched(data, filename)


def load_from_pavi(filename: str, map_location: Any = None) -> dict[str, Any]:
    """``pavi://``: downloaded from the model cloud to a temporary file, read safely."""
    try:
        from pavi import modelcloud
    except ImportError:
        raise CheckpointError(
            f"checkpoint {filename!r} is on pavi's model cloud, and the pavi package is not "
            "installed: install it, or download the file and give its local path."
        ) from None
    model = modelcloud.get(filename[len("pavi://") :])
    with tempfile.TemporaryDirectory() as directory:
        path = osp.join(directory, model.name)
        model.download(path)
        return read_checkpoint(path)


def _read_fetched(data: bytes, source: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        path = osp.join(directory, osp.basename(urlparse(source).path) or "checkpoint.pth")
        with open(path, "wb") as f:
            f.write(data)
        return read_checkpoint(path)


def _zoo_entry(table: dict[str, str], name: str, source: str) -> str:
    if name not in table:
        raise CheckpointError(
            f"checkpoint {source!r}: {name!r} is not a model the scheme knows. Give one of its "
            "names, a URL or a local path."
        )
    return table[name]


SAFE_LOADERS: dict[str | tuple[str, ...], Callable[..., dict[str, Any]]] = {
    "": load_from_local,
    URL_PREFIXES: load_from_http,
    ("modelzoo://", "torchvision://"): load_from_torchvision,
    ("open-mmlab://", "openmmlab://"): load_from_openmmlab,
    "mmcls://": load_from_mmcls,
    (r"(\S+\:)?s3://", r"(\S+\:)?petrel://"): load_from_ceph,
    "pavi://": load_from_pavi,
}


def load_checkpoint_safely(source: str) -> dict[str, Any]:
    """The checkpoint at ``source`` (a path or any scheme MMEngine knows), read safely."""
    loader = CheckpointLoader._get_checkpoint_loader(str(source))
    if loader is None or loader.__module__ != __name__:
        raise CheckpointError(
            f"checkpoint {source!r}: its scheme has no safe loader in this project. Download "
            "the file and give its local path."
        )
    return loader(str(source), None)


def install() -> None:
    """Register the safe loader of every scheme with MMEngine (idempotent)."""
    for prefixes, loader in SAFE_LOADERS.items():
        CheckpointLoader.register_scheme(prefixes, loader, force=True)
    unknown = [p for p, f in CheckpointLoader._schemes.items() if f.__module__ != __name__]
    for prefix in unknown:  # a scheme another package registered: refused, never loaded unsafely
        CheckpointLoader.register_scheme(prefix, _refuse_unknown_scheme, force=True)


def _refuse_unknown_scheme(filename: str, map_location: Any = None) -> dict[str, Any]:
    raise CheckpointError(
        f"checkpoint {filename!r}: its scheme has no safe loader in this project, and its own "
        "loader may run code from the file. Download the file and give its local path."
    )
