"""Checkpoint files: written atomically, loaded with torch's safe (weights-only) unpickler.

Writing: MMEngine writes checkpoints through its 'local' storage backend. The
backend registered here writes to a temporary file in the same directory and
renames it into place, so an interrupted save never leaves a truncated
checkpoint behind.

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


class AtomicLocalBackend(LocalBackend):
    """MMEngine's local storage backend, with atomic writes."""

    def put(self, obj: bytes, filepath: str | Path) -> None:
        """Write ``obj`` to ``filepath`` through a temporary file and an atomic rename."""
        directory = os.path.dirname(os.path.abspath(filepath))
        os.makedirs(directory, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".partial-")
        try:
            with os.fdopen(handle, "wb") as f:
                f.write(obj)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, filepath)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise


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
