"""A work dir belongs to one run: tools/train.py holds a lock on it for the run's life.

Two runs in one work dir write the same checkpoint names, rotate each other's files away and
interleave one log; a ``--resume`` beside a live run picks a checkpoint that run may delete.
``work_dir_lock`` takes ``WORK_DIR/run.lock`` before anything is written there (``--resume``
included, so it never looks at the files of a live run) and a second run is refused in one
paragraph that names the first.

Liveness is the kernel's: the file is locked with ``fcntl.flock`` on a descriptor kept open for
the run's life (closed in forked children such as data loader workers), and the kernel drops
the lock when the process dies, even by SIGKILL. The file records the holder's pid, host, start
time, process start time (``/proc/PID/stat``) and command, for the refusal's paragraph. A
lock file whose flock is free was left by a run killed before it could remove it: it is taken
over, with a note in the new run's log; a holder recorded on this host that still runs (same
pid and process start time: a file system that does not enforce flock) is refused, and one
recorded on another host, which this host cannot check, is refused with the way to remove it.
The lock is removed at the end of the run, after an error and on SIGTERM (which unwinds).
Only one process of a distributed run takes it: global rank 0, as its launcher numbers it.

Evaluation (tools/test.py) does not take the lock and may run beside a live training run in
the same work dir: it writes only its own timestamped log folder there (and the ``--out`` and
``--dump`` files the user names), never a checkpoint or ``last_checkpoint``, and it reads the
checkpoint it is given explicitly, not one found in the work dir.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shlex
import socket
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from .errors import UserError

LOCK_NAME = "run.lock"
# The environment variable in which each launcher gives a process its global rank.
RANK_VARIABLES = {"pytorch": "RANK", "slurm": "SLURM_PROCID", "mpi": "OMPI_COMM_WORLD_RANK"}
_UNSUPPORTED = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL)
_held_descriptors: set[int] = set()


@dataclass(frozen=True)
class Holder:
    """Who holds a work dir: the run's process, host, start and command."""

    pid: int
    host: str
    started: float
    command: str
    process_start: int | None = None

    def describe(self) -> str:
        """'pid P on host H since TIME (command: ...)', for a paragraph."""
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        return f"pid {self.pid} on host {self.host} since {since} (command: {self.command})"


@dataclass
class WorkDirLock:
    """A held lock: the open, flocked file and the note on a stale lock it replaced."""

    path: str
    descriptor: int
    owner_pid: int
    note: str | None = None

    def release(self) -> None:
        """Remove the lock file and drop the lock (in the process that took it only)."""
        if os.getpid() != self.owner_pid or self.descriptor not in _held_descriptors:
            return
        try:
            if _same_file(self.descriptor, self.path):
                os.unlink(self.path)
        finally:
            _held_descriptors.discard(self.descriptor)
            os.close(self.descriptor)


def this_host() -> str:
    """The name of this machine, as recorded in lock files."""
    return socket.gethostname()


def launcher_rank(launcher: str, environ: Mapping[str, str] | None = None) -> int:
    """This process's global rank as ``launcher`` gives it (0 for one process or when unset)."""
    env = os.environ if environ is None else environ
    value = env.get(RANK_VARIABLES.get(launcher, ""), "0")
    return int(value) if value.strip().isdigit() else 0


@contextmanager
def work_dir_lock(work_dir: str, launcher: str = "none") -> Iterator[str | None]:
    """Hold ``work_dir`` for the block (rank 0 only); yields the note on a taken-over lock."""
    if launcher_rank(launcher) != 0:
        yield None
        return
    lock = acquire(work_dir)
    try:
        yield lock.note
    finally:
        lock.release()


def acquire(work_dir: str, command: str | None = None) -> WorkDirLock:
    """Lock ``work_dir`` for this process, or raise a UserError naming the run that holds it."""
    os.makedirs(work_dir, exist_ok=True)
    path = os.path.join(work_dir, LOCK_NAME)
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            enforced = _flock(descriptor, work_dir, path)
            if _same_file(descriptor, path):
                note = _check_previous(_read(descriptor), work_dir, path, enforced)
                _write(descriptor, command)
                _held_descriptors.add(descriptor)
                return WorkDirLock(path, descriptor, os.getpid(), note)
        except BaseException:
            os.close(descriptor)
            raise
        os.close(descriptor)  # the holder removed the file as we locked it: lock the new one


def read_holder(work_dir: str) -> Holder | None:
    """The run recorded in ``work_dir``'s lock file, if there is a readable one."""
    try:
        descriptor = os.open(os.path.join(work_dir, LOCK_NAME), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return _read(descriptor)
    finally:
        os.close(descriptor)


def process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks after boot); None if it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after the command name, which may hold ')'
    return None if fields[0] in ("Z", "X") else int(fields[19])


def is_running(holder: Holder) -> bool:
    """Whether the recorded holder still runs on this host (not a later process with its pid)."""
    if os.path.isdir("/proc/self"):
        started = process_start(holder.pid)
        return started is not None and holder.process_start in (None, started)
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _flock(descriptor: int, work_dir: str, path: str) -> bool:
    """Lock the open file; False where the file system has no locks (holder info only)."""
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise UserError(_busy(work_dir, path, _read(descriptor), locked=True)) from None
    except OSError as error:
        if error.errno in _UNSUPPORTED:
            return False
        raise
    return True


def _check_previous(
    previous: Holder | None, work_dir: str, path: str, enforced: bool
) -> str | None:
    """Refuse a holder that may still run; the takeover note for one that does not."""
    if previous is None:
        return None
    if previous.host != this_host():
        raise UserError(_other_host(work_dir, path, previous))
    mine = previous.pid == os.getpid() and previous.process_start == process_start(os.getpid())
    if not mine and is_running(previous):
        raise UserError(_busy(work_dir, path, previous, locked=enforced))
    why = "which is a later process now" if process_start(previous.pid) else "which has ended"
    return (
        f"work dir lock: took over {path}, left by a run that ended without releasing it "
        f"(killed): {previous.describe()}, {why}."
    )


def _busy(work_dir: str, path: str, holder: Holder | None, locked: bool) -> str:
    """The paragraph that refuses a second run in ``work_dir``."""
    if holder is None:
        who = f"a process that holds {path} (it has not recorded itself yet)"
    else:
        who = f"another training run, {holder.describe()}"
        if locked and holder.host == this_host() and not is_running(holder):
            who += (
                "; that process has ended but one it started (a data loader worker, a "
                "subprocess) still holds the lock"
            )
    return (
        f"the work directory {work_dir} is in use by {who}. Two runs in one work directory "
        "overwrite and delete each other's checkpoints and logs, and a --resume beside a live "
        "run can pick a checkpoint that run deletes. Give this run another --work-dir, or wait "
        "for that run to finish (or stop it) and start this one again."
    )


def _other_host(work_dir: str, path: str, holder: Holder) -> str:
    """The paragraph that refuses a lock recorded by a run on another machine."""
    return (
        f"the work directory {work_dir} is locked by a training run on another host, "
        f"{holder.describe()}; this host ({this_host()}) cannot check whether it still runs. "
        f"If it does, give this run another --work-dir or wait for it to finish; if it is dead "
        f"(on {holder.host}: ps -p {holder.pid}), remove {path} and start this run again."
    )


def _same_file(descriptor: int, path: str) -> bool:
    """Whether ``path`` still names the open file (a releasing run removes it)."""
    try:
        return os.stat(path).st_ino == os.fstat(descriptor).st_ino
    except FileNotFoundError:
        return False


def _read(descriptor: int) -> Holder | None:
    """The holder recorded in the open lock file; None if empty or unreadable."""
    try:
        text = os.pread(descriptor, 1 << 16, 0).decode()
        return Holder(**json.loads(text))
    except (OSError, ValueError, TypeError):
        return None


def _write(descriptor: int, command: str | None) -> None:
    """Record this process as the holder (no fsync: flock, not the file, says who is alive)."""
    pid = os.getpid()
    holder = Holder(
        pid=pid,
        host=this_host(),
        started=time.time(),
        command=command or shlex.join([os.path.basename(sys.executable), *sys.argv]),
        process_start=process_start(pid),
    )
    data = json.dumps(asdict(holder)).encode()
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, data, 0)


def _close_in_child() -> None:
    """A forked child (a data loader worker) must not keep its parent's work dir locked."""
    for descriptor in _held_descriptors:
        with contextlib.suppress(OSError):
            os.close(descriptor)
    _held_descriptors.clear()


os.register_at_fork(after_in_child=_close_in_child)
