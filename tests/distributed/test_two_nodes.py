"""Two "machines" of one process each, started by tools/dist_train.sh, train ARSAM in step."""

from __future__ import annotations

import os
import subprocess
import sys

import torch

from tests.adapter.test_distributed import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, "tests", "distributed", "launched_config.py")


def start_node(node_rank: int, port: int, work: str) -> subprocess.Popen:
    """``tools/dist_train.sh CONFIG 1`` as node ``node_rank`` of two, both on this machine."""
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        PYTHON=sys.executable,
        NNODES="2",
        NODE_RANK=str(node_rank),
        MASTER_ADDR="127.0.0.1",
        PORT=str(port),
    )
    return subprocess.Popen(
        ["bash", "tools/dist_train.sh", CONFIG, "1", "--work-dir", work],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_two_nodes(work: str, timeout: float) -> tuple[list[int], list[str]]:
    """Start both nodes on a fresh port; their exit codes (-9: killed at the timeout) and stderr."""
    port = free_port()
    nodes = [start_node(0, port, work), start_node(1, port, work)]
    errors = ["", ""]
    try:
        for index, node in enumerate(nodes):
            errors[index] = node.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        pass
    finally:
        for index, node in enumerate(nodes):
            if node.poll() is None:
                node.kill()
                errors[index] += node.communicate()[1] or ""
    return [node.returncode for node in nodes], errors


def test_two_nodes_take_the_same_sam_decisions_and_end_with_the_same_weights(tmp_path) -> None:
    # The run takes about 10 s. Now and then (about one full suite in seven here) the two
    # launchers hang without a word; the cause is not identified (a port taken between
    # free_port() and the launch is the suspect). Such an attempt is killed after 120 s and
    # repeated once on a new port; if that fails too, both attempts' stderr are shown.
    failures = []
    for attempt in range(2):
        work = str(tmp_path / f"work{attempt}")
        codes, errors = run_two_nodes(work, timeout=120)
        if codes == [0, 0]:
            break
        failures.append(
            f"attempt {attempt + 1}: exit codes {codes}\n" + "\n".join(e[-3000:] for e in errors)
        )
        timed_out = any("Traceback" not in e and "error:" not in e for e in errors)
        if not timed_out:
            break
    assert codes == [0, 0], "\n\n".join(failures)
    rank0 = torch.load(os.path.join(work, "rank0.pt"), weights_only=True)
    rank1 = torch.load(os.path.join(work, "rank1.pt"), weights_only=True)
    for record in (rank0, rank1):
        assert record["world_size"] == 2 and record["backend"] == "gloo"
        assert record["wrapper"] == "CPUDistributedDataParallel"
    assert rank0["stats"]["steps"] == 10  # 16 samples per rank, batch 8, 5 epochs
    assert rank0["sam_steps"] == rank1["sam_steps"]  # after every iteration
    assert rank0["stats"] == rank1["stats"]
    assert 2 <= rank0["stats"]["sam_steps"] < 10  # warm-up SAM steps, then reuse steps
    for p, q in zip(rank0["weights"], rank1["weights"]):
        assert torch.equal(p, q)
