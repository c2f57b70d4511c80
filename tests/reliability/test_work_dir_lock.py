"""A work dir belongs to one run: a second run, or a --resume, beside a live one is refused.

The first run is a forked child of this process (tests/reliability/harness.py) that stops
after a chosen training iteration until the test tells it how to go on: continue, fail,
SIGTERM or SIGKILL. The second run is tools/train.py's command line in this process.
"""

from __future__ import annotations

import glob
import json
import os
import signal
import socket
import sys
import time
import traceback
from pathlib import Path

import pytest
import torch
from mmengine.hooks import Hook

from arsam.tools.cli import main
from arsam.tools.test import run as evaluate_tool
from arsam.tools.train import run as train_tool
from tests.adapter.conftest import CONFIG
from tests.reliability.harness import cache_config_text, parse
from tests.reliability.test_user_errors import one_paragraph

LOCK = "run.lock"
ACTIONS = ("continue", "error", "sigterm", "sigkill")
WAIT_SECONDS = 120.0


class PausedRuns:
    """Training runs forked from this process, each stopped after one iteration until told."""

    def __init__(self, gates: Path) -> None:
        self.gates, self.running = gates, {}

    def start(self, argv: list[str], pause_after: int) -> int:
        """Fork ``tools/train.py ARGV``; return its pid once it stopped after ``pause_after``."""
        gate = self.gates / str(len(self.running))
        gate.mkdir(parents=True)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(argv, gate, pause_after)
        self.running[pid] = gate
        deadline = time.monotonic() + WAIT_SECONDS
        while not (gate / "paused").exists():
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                del self.running[pid]
                pytest.fail(f"the first run ended with {os.waitstatus_to_exitcode(status)}")
            assert time.monotonic() < deadline, "the first run did not reach its pause"
            time.sleep(0.02)
        return pid

    def finish(self, pid: int, action: str) -> int:
        """Tell the paused run what to do; its exit code (negative: killed by that signal)."""
        gate = self.running.pop(pid)
        (gate / "go.tmp").write_text(action)
        os.replace(gate / "go.tmp", gate / "go")
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)

    def kill_all(self) -> None:
        """Stop and reap every run a failed test left paused."""
        for pid in list(self.running):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            del self.running[pid]


def _child(argv: list[str], gate: Path, pause_after: int) -> None:
    """The forked first run: train, stopping after iteration ``pause_after``; never returns."""
    code = 1
    try:
        torch.set_num_threads(1)
        cache_config_text()
        sys.argv = ["tools/train.py", *argv]
        _install_gate(gate, pause_after)
        from arsam.tools.cli.config import load_config
        from arsam.tools.cli.runs import train

        code = main(lambda: train(load_config(**parse(argv))))
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _install_gate(gate: Path, pause_after: int) -> None:
    """Make every Runner built in this (child) process stop after iteration ``pause_after``."""
    from arsam.tools.cli import runs

    class Gate(Hook):
        priority = "VERY_LOW"

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
            if runner.iter + 1 != pause_after:
                return
            (gate / "paused").write_text("")
            deadline = time.monotonic() + WAIT_SECONDS
            while not (gate / "go").exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            action = (gate / "go").read_text() if (gate / "go").exists() else "sigkill"
            if action == "error":
                raise RuntimeError("a failure injected by the test")
            if action in ("sigterm", "sigkill"):
                os.kill(os.getpid(), getattr(signal, action.upper()))

    build = runs.build_runner

    def build_with_gate(cfg):
        runner = build(cfg)
        runner.register_hook(Gate())
        return runner

    runs.build_runner = build_with_gate


@pytest.fixture
def runs(tmp_path):
    """Start paused first runs; any left paused by a failing test are killed afterwards."""
    started = PausedRuns(tmp_path / "gates")
    yield started
    started.kill_all()


def train_argv(work: Path, *options: str) -> list[str]:
    return [CONFIG, "--work-dir", str(work), *options]


def train_here(work: Path, *options: str) -> tuple[int, str]:
    """Run tools/train.py in this process; its exit code and the text of its log file."""
    runners = []
    code = main(lambda: runners.append(train_tool(train_argv(work, *options))))
    logs = glob.glob(os.path.join(runners[0].log_dir, "*.log")) if runners else []
    return code, "".join(Path(log).read_text() for log in logs)


def test_second_run_is_refused_naming_the_first(capsys, tmp_path, runs) -> None:
    work = tmp_path / "work"
    pid = runs.start(train_argv(work), pause_after=1)
    before = sorted(os.listdir(work))
    message = one_paragraph(capsys, train_tool, *train_argv(work))
    assert f"pid {pid} on host {socket.gethostname()} since " in message
    assert f"tools/train.py {CONFIG} --work-dir {work}" in message
    assert "another --work-dir" in message and "wait for that run to finish" in message
    assert sorted(os.listdir(work)) == before, "the refused run wrote into the work dir"
    assert runs.finish(pid, "continue") == 0
    assert (work / "epoch_2.pth").is_file()


def test_resume_beside_a_live_run_is_refused(capsys, tmp_path, runs) -> None:
    work = tmp_path / "work"
    rotating = ("--cfg-options", "default_hooks.checkpoint.max_keep_ckpts=1")
    pid = runs.start(train_argv(work, *rotating), pause_after=5)  # epoch 2's first step
    assert (work / "epoch_1.pth").is_file()  # what --resume would pick; the live run deletes it
    message = one_paragraph(capsys, train_tool, *train_argv(work, "--resume"))
    assert f"pid {pid} on host" in message and "another --work-dir" in message
    # evaluation beside a live run is allowed: it writes only its own log folder
    assert evaluate_tool([CONFIG, str(work / "epoch_1.pth"), "--work-dir", str(work)])
    assert runs.finish(pid, "continue") == 0
    assert not (work / "epoch_1.pth").exists() and (work / "epoch_2.pth").is_file()


def test_lock_of_a_killed_run_is_taken_over_with_a_note(tmp_path, runs) -> None:
    work = tmp_path / "work"
    pid = runs.start(train_argv(work), pause_after=5)
    assert runs.finish(pid, "sigkill") == -signal.SIGKILL
    assert json.loads((work / LOCK).read_text())["pid"] == pid  # nothing could remove it
    code, log = train_here(work, "--resume")
    assert code == 0
    assert f"took over {work / LOCK}" in log and f"pid {pid} on host" in log
    assert "which has ended" in log
    assert not (work / LOCK).exists()


@pytest.mark.parametrize(
    ("action", "exit_code"), [("continue", 0), ("error", 1), ("sigterm", 128 + signal.SIGTERM)]
)
def test_lock_is_released_when_a_run_ends(capsys, tmp_path, runs, action, exit_code) -> None:
    work = tmp_path / "work"
    pid = runs.start(train_argv(work), pause_after=1)
    assert f"pid {pid} on host" in one_paragraph(capsys, train_tool, *train_argv(work))
    assert runs.finish(pid, action) == exit_code
    assert not (work / LOCK).exists()
    code, log = train_here(work)
    assert code == 0 and "took over" not in log


def _process_start(pid: int) -> int:
    text = Path(f"/proc/{pid}/stat").read_text()
    return int(text[text.rindex(")") + 2 :].split()[19])


def _write_lock(work: Path, **holder: object) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    record = dict(started=time.time() - 60, command="python tools/train.py other.py")
    (work / LOCK).write_text(json.dumps({**record, **holder}))
    return work / LOCK


def test_lock_of_another_host_is_refused_with_how_to_remove_it(capsys, tmp_path) -> None:
    work = tmp_path / "work"
    lock = _write_lock(work, pid=4321, host="other-node", process_start=None)
    message = one_paragraph(capsys, train_tool, *train_argv(work))
    assert "pid 4321 on host other-node" in message and "python tools/train.py other.py" in message
    assert "cannot check whether it still runs" in message and f"remove {lock}" in message


def test_recorded_live_holder_is_refused_and_a_reused_pid_is_not(capsys, tmp_path) -> None:
    work, live = tmp_path / "work", os.getppid()
    host = socket.gethostname()
    _write_lock(work, pid=live, host=host, process_start=_process_start(live))
    message = one_paragraph(capsys, train_tool, *train_argv(work))  # flock not enforced
    assert f"pid {live} on host {host}" in message
    _write_lock(work, pid=live, host=host, process_start=_process_start(live) + 1)
    code, log = train_here(work)
    assert code == 0 and f"pid {live}" in log and "which is a later process now" in log


def test_only_rank_zero_takes_the_lock(tmp_path, monkeypatch) -> None:
    from arsam.tools.cli.work_dir_lock import work_dir_lock

    monkeypatch.setenv("RANK", "1")
    with work_dir_lock(str(tmp_path / "rank1"), "pytorch"):
        assert not (tmp_path / "rank1" / LOCK).exists()
    monkeypatch.setenv("RANK", "0")
    with work_dir_lock(str(tmp_path / "rank0"), "pytorch"):
        assert (tmp_path / "rank0" / LOCK).is_file()
    assert not (tmp_path / "rank0" / LOCK).exists()
