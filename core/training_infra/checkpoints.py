"""Checkpoint files: written atomically, loaded with torch's safe (weights-only) unpickler.

Writing: MMEngine writes checkpoints through its 'local' storage backend. The
backend registered here writes to a temporary file in the same directory and
renames it into place, so an interrupted save never leaves a truncated
checkpoint behind; ``remove_partial_files`` clears what a killed process left.

Loading: torch >= 2.6 refuses every global that is not allow-listed. MMEngine's
checkpoints hold numpy arrays and scalars (in the message hub's history and the
dataset metadata) and MMEngine's HistoryBuffer. Exactly those data containers
are trusted; anything else in a checkpoint still fails to load, as it should.
HistoryBuffer normally pickles references to its statistics methods (which
would need ``getattr`` to be trusted); it is written here as data only, and its
own ``__setstate__`` registers the default methods again when it is loaded.
Checkpoints written by MMEngine without this module keep those references and
need ``weights_only=False``, which is for files from a trusted source only.
"""

from __future__ import annotations

import copyreg
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from mmengine.fileio.backends import LocalBackend, register_backend
from mmengine.logging.history_buffer import HistoryBuffer

from ..durable_files import fsync_directory

PARTIAL_PREFIX = ".partial-"


def _file_mode() -> int:
    """The mode a newly created file gets under the process's umask (0666 & ~umask)."""
    try:
        with open("/proc/self/status") as f:  # read without changing it (thread-safe)
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomically(data: bytes, filepath: str | Path) -> None:
    """Write ``data`` to ``filepath`` through a temporary file, fsync and an atomic rename.

    Readers see the old file or the new one, never a truncated one; the new file gets the
    permissions of a normally created file (the umask applies).
    """
    directory = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=PARTIAL_PREFIX)
    try:
        os.fchmod(handle, _file_mode())
        with os.fdopen(handle, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, filepath)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    fsync_directory(directory)


def remove_partial_files(directory: str | Path) -> list[str]:
    """Delete the temporary files that an interrupted write left in ``directory``."""
    removed = []
    if not os.path.isdir(directory):
        return removed
    for name in os.listdir(directory):
        if name.startswith(PARTIAL_PREFIX):
            path = os.path.join(directory, name)
            try:
                os.unlink(path)
            except OSError:
                continue
            removed.append(path)
    return removed


class AtomicLocalBackend(LocalBackend):
    """MMEngine's local storage backend, with atomic writes."""

    def put(self, obj: bytes, filepath: str | Path) -> None:
        """Write ``obj`` to ``filepath`` through a temporary file and an atomic rename."""
        write_atomically(obj, filepath)


def _history_buffer_as_data(buffer: HistoryBuffer) -> tuple:
    """Pickle a HistoryBuffer as its class and its data, without method references."""
    state = {k: v for k, v in buffer.__dict__.items() if k != "statistics_methods"}
    return (HistoryBuffer, (), state)


def trusted_checkpoint_globals() -> list:
    """The non-tensor globals that the project's MMEngine checkpoints may contain."""
    numpy_core = np.core  # the module path numpy 1.x writes into pickles
    dtype_classes = [type(np.dtype(name)) for name in np.sctypeDict if _is_dtype(name)]
    return [
        numpy_core.multiarray._reconstruct,
        numpy_core.multiarray.scalar,
        np.ndarray,
        np.dtype,
        *sorted(set(dtype_classes), key=lambda t: t.__name__),
        HistoryBuffer,
    ]


def _is_dtype(name: object) -> bool:
    try:
        np.dtype(name)
    except TypeError:
        return False
    return True


def install() -> None:
    """Register the atomic backend and allow-list the trusted globals (idempotent)."""
    register_backend("local", AtomicLocalBackend, force=True, prefixes="")
    copyreg.pickle(HistoryBuffer, _history_buffer_as_data)
    torch.serialization.add_safe_globals(trusted_checkpoint_globals())
