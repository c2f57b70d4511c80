"""User errors: one paragraph that says what to do, printed instead of a traceback.

Exit codes: 0 success, 2 a mistake in the command line, config or files (nothing trained)
or a file that could not be written (disk full, read-only; what was written is intact),
3 training stopped because the loss or the weights became inf/NaN, 4 a distributed collective
timed out or lost a rank, 143 stopped by SIGTERM. In a distributed run a rank that stops leaves
its reason for the others, which then stop with the same paragraph and exit code.
Setting the environment variable ``ARSAM_DEBUG=1`` (or passing ``--debug``) shows the full
traceback instead of the paragraph.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from arsam.core.training_infra.checkpoint_checks import CheckpointError
from arsam.core.training_infra.checkpoint_hook import POINTER
from arsam.core.training_infra.distributed import (
    announce_stop,
    explain_collective_failure,
    is_collective_failure,
)
from arsam.core.training_infra.nonfinite import NonFiniteTrainingError

DEBUG_VARIABLE = "ARSAM_DEBUG"
USER_ERROR_EXIT = 2
NONFINITE_EXIT = 3
DISTRIBUTED_EXIT = 4
_PEER_STOP_EXITS = {"user": USER_ERROR_EXIT, "nonfinite": NONFINITE_EXIT}


class UserError(Exception):
    """A problem with the user's input, explained in one paragraph."""


def debugging() -> bool:
    """Whether full tracebacks were asked for (ARSAM_DEBUG=1 or --debug)."""
    return os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors a user can fix into UserError, with the original message."""
    try:
        yield
    except CheckpointError as error:
        raise UserError(str(error)) from error
    except FileNotFoundError as error:
        raise UserError(str(error)) from error
    except KeyError as error:
        message = str(error.args[0]) if error.args else str(error)
        if "registry" in message:
            raise UserError(
                f"{message.strip()} Check the 'type' names in the config and that "
                "custom_imports lists the task package that registers them."
            ) from error
        raise


@contextmanager
def config_errors(section: str) -> Iterator[None]:
    """Turn a ValueError or TypeError raised while building ``section`` into a UserError."""
    with user_errors():
        try:
            yield
        except (ValueError, TypeError, AssertionError) as error:
            message = " ".join(str(error).split()).rstrip(".") or type(error).__name__
            raise UserError(
                f"{section}: {message}. Correct it in the config's {section} (or with "
                "--cfg-options)."
            ) from error


STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES}
_STORAGE_PROBLEMS = {
    errno.ENOSPC: ("no space left on the device", "Free space on that disk"),
    errno.EDQUOT: ("the disk quota is exceeded", "Free space within your quota"),
    errno.EROFS: ("the file system is read-only", "Make that folder writable"),
    errno.EACCES: ("permission denied", "Make that folder writable"),
}


@contextmanager
def storage_errors() -> Iterator[None]:
    """Turn a full disk, a read-only file system or a denied permission into a UserError."""
    try:
        yield
    except OSError as error:
        if not _failed_write(error):
            raise
        raise UserError(_storage_paragraph(error)) from error


def _failed_write(error: OSError) -> bool:
    """Whether ``error`` is a write refused for lack of space or permission (not a read)."""
    if error.errno not in STORAGE_ERRNOS:
        return False
    if error.errno != errno.EACCES:
        return True
    path = error.filename
    return bool(path) and (not os.path.exists(path) or os.access(path, os.R_OK))


def _storage_paragraph(error: OSError) -> str:
    """What failed to be written, that what was written is intact, and how to go on."""
    problem, fix = _STORAGE_PROBLEMS[error.errno]
    target = f" ({error.filename})" if error.filename else ""
    newest = "the work directory's last_checkpoint file names the newest complete checkpoint"
    if error.filename:
        pointer = os.path.join(os.path.dirname(os.path.abspath(error.filename)), POINTER)
        if os.path.isfile(pointer):
            with open(pointer) as f:
                newest = f"the newest complete checkpoint is {f.read().strip()}"
    return (
        f"writing a file failed: {problem}{target}. Checkpoints and logs already written are "
        "intact (a checkpoint is written to a temporary file and renamed into place, so a "
        f"failed write never replaces a complete one); {newest}. {fix} (or give --work-dir "
        "on another disk) and run the command again; a training run goes on from its newest "
        "checkpoint with --resume."
    )


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    """Unwind on SIGTERM, so that files being written are cleaned up."""
    raise SystemExit(128 + signum)


def main(run: Callable[[], Any]) -> int:
    """Run ``run``; print a paragraph and return its exit code instead of a traceback."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        with storage_errors():
            run()
    except UserError as error:
        announce_stop("user", str(error))
        if debugging():
            raise
        print(f"error: {error}", file=sys.stderr)
        return USER_ERROR_EXIT
    except NonFiniteTrainingError as error:
        announce_stop("nonfinite", str(error))
        if debugging():
            raise
        print(f"error: {error}", file=sys.stderr)
        return NONFINITE_EXIT
    except Exception as error:
        if not is_collective_failure(error):
            first_line = (str(error).strip().splitlines() or [""])[0]
            announce_stop("error", f"{type(error).__name__}: {first_line} (its log has more).")
            raise
        failure = explain_collective_failure(error)
        if debugging():
            raise
        print(f"error: {failure.paragraph}", file=sys.stderr)
        return _PEER_STOP_EXITS.get(failure.peer_stop or "", DISTRIBUTED_EXIT)
    return 0
