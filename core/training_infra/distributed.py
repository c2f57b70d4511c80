"""Distributed runs: every launcher on machines without CUDA, and failures told in words.

MMEngine's launchers call ``torch.cuda.set_device`` unconditionally and wrap the model with
``device_ids=[LOCAL_RANK]``, both of which fail without a GPU. ``prepare_cpu_distributed``
reads what the launcher (torchrun, Slurm's srun, Open MPI's mpirun) put in the environment,
starts the gloo process group itself (the Runner then skips its own start) and selects a DDP
wrapper that leaves device_ids out for CPU modules. With CUDA, MMEngine starts the group.

``env_cfg.dist_cfg.timeout`` (seconds, as for MMEngine's GPU launch) bounds every collective:
a rank that stops answering makes the others fail after that long instead of waiting forever.
A rank that stops on its own (a non-finite loss, an error) leaves its reason in the rendezvous
store before it exits; a rank whose collective then fails (timed out, or the peer's connection
closed) reads the reasons and the other ranks' reports there, and
``explain_collective_failure`` turns them into one paragraph that names the ranks at fault.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS

# What each launcher must have put into the environment of every process it starts.
LAUNCHER_VARIABLES = {
    "pytorch": ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK"),
    "slurm": ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_NODELIST"),
    "mpi": (
        "OMPI_COMM_WORLD_RANK",
        "OMPI_COMM_WORLD_SIZE",
        "OMPI_COMM_WORLD_LOCAL_RANK",
        "MASTER_ADDR",
    ),
}
LAUNCHERS = ("none", *LAUNCHER_VARIABLES)
DEFAULT_MASTER_PORT = "29500"  # torch's and MMEngine's default

# Rendezvous-store keys of the failure reports; a stop reason is one of STOP_KINDS.
_REPORT_KEY = "arsam/report/"
_REPORT_COUNT = "arsam/reports"
STOP_KINDS = ("nonfinite", "user", "error")
_LOST_PEER_MARKERS = ("connection reset by peer", "connection closed by peer", "broken pipe")
_STORE_SECONDS = 5.0  # the longest a report may wait for the store
T = TypeVar("T")

_configured_timeout: timedelta | None = None


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """MMDistributedDataParallel for modules on the CPU (no device_ids)."""

    def __init__(self, module: torch.nn.Module, device_ids: Any = None, **kwargs: Any) -> None:
        super().__init__(module=module, device_ids=None, **kwargs)


def collective_timeout(cfg: Config) -> timedelta | None:
    """``env_cfg.dist_cfg.timeout`` (seconds) as the process group's timeout, if given."""
    seconds = ((cfg.get("env_cfg") or {}).get("dist_cfg") or {}).get("timeout")
    return None if seconds is None else timedelta(seconds=float(seconds))


def missing_launcher_variables(
    launcher: str, environ: Mapping[str, str] | None = None
) -> list[str]:
    """The variables ``launcher`` needs that the environment lacks (none for 'none')."""
    environ = os.environ if environ is None else environ
    return [name for name in LAUNCHER_VARIABLES.get(launcher, ()) if name not in environ]


def first_slurm_host(nodelist: str) -> str | None:
    """The first host of a Slurm node list (``scontrol show hostnames``); None without scontrol."""
    scontrol = shutil.which("scontrol")
    if scontrol is None:
        return None
    done = subprocess.run(
        [scontrol, "show", "hostnames", nodelist], capture_output=True, text=True, check=False
    )
    hosts = done.stdout.split()
    return hosts[0] if done.returncode == 0 and hosts else None


def torchrun_variables(launcher: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT as ``launcher`` describes them."""
    env = os.environ if environ is None else environ
    port = env.get("MASTER_PORT", DEFAULT_MASTER_PORT)
    if launcher == "slurm":
        address = env.get("MASTER_ADDR") or first_slurm_host(env["SLURM_NODELIST"])
        if address is None:
            raise RuntimeError(
                "--launcher slurm needs MASTER_ADDR or the scontrol command to find the first "
                f"host of SLURM_NODELIST={env['SLURM_NODELIST']!r}"
            )
        return dict(
            RANK=env["SLURM_PROCID"],
            WORLD_SIZE=env["SLURM_NTASKS"],
            LOCAL_RANK=env.get("SLURM_LOCALID", "0"),
            MASTER_ADDR=address,
            MASTER_PORT=port,
        )
    if launcher == "mpi":
        return dict(
            RANK=env["OMPI_COMM_WORLD_RANK"],
            WORLD_SIZE=env["OMPI_COMM_WORLD_SIZE"],
            LOCAL_RANK=env["OMPI_COMM_WORLD_LOCAL_RANK"],
            MASTER_ADDR=env["MASTER_ADDR"],
            MASTER_PORT=port,
        )
    return {name: env[name] for name in LAUNCHER_VARIABLES["pytorch"]}


def prepare_cpu_distributed(cfg: Config) -> None:
    """Start gloo and pick the CPU DDP wrapper for a launched run on a machine without CUDA."""
    global _configured_timeout
    launcher = cfg.get("launcher", "none")
    _configured_timeout = collective_timeout(cfg)
    if launcher == "none" or torch.cuda.is_available():
        return
    if launcher not in LAUNCHER_VARIABLES:
        raise RuntimeError(f"unknown launcher {launcher!r}: use one of {', '.join(LAUNCHERS)}")
    missing = missing_launcher_variables(launcher)
    if missing:
        raise RuntimeError(
            f"--launcher {launcher} needs the variables its launcher sets "
            f"({', '.join(missing)} missing)"
        )
    os.environ.update(torchrun_variables(launcher))
    if not dist.is_initialized():
        dist.init_process_group(backend="gloo", timeout=_configured_timeout)
    wrapper = dict(cfg.get("model_wrapper_cfg") or {})
    wrapper["type"] = "CPUDistributedDataParallel"
    cfg.model_wrapper_cfg = wrapper


@dataclass(frozen=True)
class CollectiveFailure:
    """Why a collective failed, in one paragraph; ``peer_stop`` is the stop kind of its cause."""

    paragraph: str
    peer_stop: str | None = None


def is_collective_failure(error: BaseException) -> bool:
    """Whether ``error`` is a collective of a distributed run that timed out or lost a peer."""
    if not (dist.is_available() and dist.is_initialized()):
        return False
    if isinstance(error, dist.DistError):
        return True
    return isinstance(error, RuntimeError) and (
        _timed_out(error) or any(marker in str(error).lower() for marker in _LOST_PEER_MARKERS)
    )


def _timed_out(error: BaseException) -> bool:
    text = str(error).lower()
    return "timed out" in text or "timeout" in text


def announce_stop(kind: str, reason: str) -> None:
    """Leave in the rendezvous store why this rank stops, for the ranks left waiting for it."""
    if kind not in STOP_KINDS:
        raise ValueError(f"kind must be one of {STOP_KINDS}, got {kind!r}")
    if dist.is_available() and dist.is_initialized():
        _within(_STORE_SECONDS, lambda: _report({"kind": kind, "reason": reason}))


def explain_collective_failure(error: BaseException) -> CollectiveFailure:
    """One paragraph on a failed collective: which ranks stopped or went silent, and what to do."""
    timed_out = _timed_out(error)
    seconds = _timeout_seconds()
    me, world = dist.get_rank(), dist.get_world_size()
    grace = _grace_seconds(seconds)
    reports = _within(
        grace + _STORE_SECONDS,
        lambda: _report_and_gather({"kind": "timeout" if timed_out else "lost"}, me, world, grace),
    )
    stopped = {rank: r for rank, r in (reports or {}).items() if r.get("kind") in STOP_KINDS}
    if stopped:
        rank, report = min(stopped.items())
        return CollectiveFailure(
            f"rank {rank} stopped, so rank {me} stops too. Rank {rank}: {report.get('reason')}",
            peer_stop=report["kind"],
        )
    silence = "stopped responding" if timed_out else "left no reason"
    culprit = _culprit(reports, me, world, grace, silence)
    if timed_out:
        return CollectiveFailure(
            f"a distributed collective timed out on rank {me} after {seconds:g} s "
            f"(env_cfg.dist_cfg.timeout): {culprit}. Look at the log and the state of the "
            "silent process (stopped, swapping, stuck in data loading). If it is only slow "
            "(a long evaluation or checkpoint write, slow storage), raise the timeout with "
            "--cfg-options env_cfg.dist_cfg.timeout=SECONDS."
        )
    return CollectiveFailure(
        f"rank {me} lost its connection to another rank during a collective: {culprit}. A "
        "rank that exits or is killed (out of memory, a signal, a crash) closes its "
        "connections; its log, or the system log for the out-of-memory killer, says why."
    )


def _culprit(
    reports: dict[int, dict] | None, me: int, world: int, grace: float, silence: str
) -> str:
    """Which ranks did not report within ``grace`` seconds (None: the store did not answer)."""
    if reports is None:
        store = f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}"
        return (
            f"the rendezvous store at {store} does not answer either, so the process that "
            "holds it (rank 0, or node 0's torchrun) stopped responding or exited"
        )
    silent = [rank for rank in range(world) if rank != me and rank not in reports]
    if not silent:
        return (
            "every rank reported the same failure, so they wait for different collectives "
            "(their code took different paths) or the network between them is down"
        )
    waiting = sorted({me, *reports})
    plural = len(silent) > 1
    return (
        f"rank{'s' if plural else ''} {_ranks(silent)} {silence} (no report from "
        f"{'them' if plural else 'it'} in the {grace:.0f} s after; waiting: "
        f"rank{'s' if len(waiting) > 1 else ''} {_ranks(waiting)})"
    )


def _ranks(ranks: list[int]) -> str:
    return ", ".join(str(rank) for rank in ranks)


def _timeout_seconds() -> float:
    if _configured_timeout is not None:
        return _configured_timeout.total_seconds()
    return dist.default_pg_timeout.total_seconds()


def _grace_seconds(timeout_seconds: float) -> float:
    """How long to wait for the other ranks' reports: they fail within about a step of us."""
    return min(30.0, max(3.0, timeout_seconds / 10))


def _within(seconds: float, work: Callable[[], T]) -> T | None:
    """``work()``, or None when it fails or has not returned after ``seconds``.

    Store requests wait for an answer without a time limit when the process that holds the
    store is stopped, so they run in a daemon thread that is abandoned after ``seconds``.
    """
    results: list[T] = []

    def attempt() -> None:
        with contextlib.suppress(RuntimeError):  # the store's errors: DistStoreError, lost
            results.append(work())

    thread = threading.Thread(target=attempt, name="arsam-failure-report", daemon=True)
    thread.start()
    thread.join(seconds)
    return results[0] if results else None


def _report(report: dict) -> None:
    """Write this rank's report into the rendezvous store."""
    store = dist.distributed_c10d._get_default_store()
    store.set(f"{_REPORT_KEY}{dist.get_rank()}", json.dumps(report))
    store.add(_REPORT_COUNT, 1)


def _report_and_gather(report: dict, me: int, world: int, grace: float) -> dict[int, dict]:
    """Report, then the other ranks' reports: all of them, a stop reason, or those in ``grace``."""
    _report(report)
    store, reports, seen = dist.distributed_c10d._get_default_store(), {}, 0
    deadline = time.monotonic() + grace
    while True:
        count = store.add(_REPORT_COUNT, 0)
        if count != seen:
            seen = count
            for rank in range(world):
                key = f"{_REPORT_KEY}{rank}"
                if rank != me and rank not in reports and store.check([key]):
                    reports[rank] = json.loads(store.get(key))
        stop = any(r.get("kind") in STOP_KINDS for r in reports.values())
        if stop or len(reports) == world - 1 or time.monotonic() >= deadline:
            return reports
        time.sleep(0.1)
