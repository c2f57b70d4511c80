"""Checkpoints fetched from a URL are read like local ones: weights only, so no payload runs.

A local HTTP server on 127.0.0.1 serves a checkpoint whose unpickling would create a marker
file; every entry point that takes a checkpoint is given its URL. Before the safe loaders,
MMEngine read http(s) checkpoints with ``weights_only=False`` and the payload ran.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

from arsam.core.training_infra import checkpoint_loading
from arsam.core.training_infra.checkpoint_checks import CheckpointError
from arsam.core.training_infra.checkpoint_loading import download_cache_path, load_checkpoint_safely
from arsam.tasks.quantization.float_init import float_state_dict
from arsam.tools.cli import main
from arsam.tools.publish_checkpoint import run as publish_tool
from arsam.tools.test import run as evaluate_tool
from tests.adapter.conftest import CONFIG
from tests.reliability.test_user_errors import (  # noqa: F401  (no_training_step is autouse)
    no_training_step,
    one_paragraph,
    saved_checkpoint,
    train_with,
)


class Payload:
    """Unpickling this creates ``marker``: what an attacker's checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path, monkeypatch) -> Iterator[tuple[str, Path]]:
    """(base URL, folder it serves) on 127.0.0.1; torch hub's cache under tmp_path."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(_Quiet, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()


def payload_url(served: tuple[str, Path], marker: Path, name: str = "payload.pth") -> str:
    """Serve a checkpoint whose unpickling would create ``marker``; its URL."""
    base, folder = served
    torch.save({"state_dict": {}, "meta": {"epoch": 1}, "x": Payload(marker)}, folder / name)
    return f"{base}/{name}"


def test_the_payload_runs_when_loaded_unsafely(tmp_path) -> None:
    """The control: the same file, loaded with weights_only=False, runs its code."""
    marker = tmp_path / "ran"
    torch.save({"x": Payload(marker)}, tmp_path / "p.pth")
    torch.load(tmp_path / "p.pth", weights_only=False)
    assert marker.exists()


def test_every_scheme_mmengine_knows_has_a_safe_loader() -> None:
    modules = {loader.__module__ for loader in CheckpointLoader._schemes.values()}
    assert modules == {checkpoint_loading.__name__}


@pytest.mark.parametrize("entry", ["resume", "load_from", "init_cfg", "test", "publish"])
def test_a_payload_behind_a_url_never_runs(capsys, tmp_path, served, entry) -> None:
    marker = tmp_path / "ran"
    url = payload_url(served, marker)
    work = str(tmp_path / "work")
    if entry == "resume":
        message = one_paragraph(capsys, _train, CONFIG, "--work-dir", work, "--resume", url)
    elif entry == "load_from":
        message = train_with(capsys, tmp_path, f"load_from={url}")
    elif entry == "init_cfg":
        message = train_with(
            capsys, tmp_path, "model.init_cfg.type=Pretrained", f"model.init_cfg.checkpoint={url}"
        )
    elif entry == "test":
        message = one_paragraph(capsys, evaluate_tool, CONFIG, url, "--work-dir", work)
    else:
        message = one_paragraph(capsys, publish_tool, url, str(tmp_path / "published.pth"))
    assert not marker.exists(), f"the payload ran through {entry}"
    assert "safe loader" in message and "posix.system" in message, message


def test_a_cached_download_is_checked_again_at_every_use(capsys, tmp_path, served) -> None:
    """A payload already in torch hub's cache is refused, although the server's file is clean."""
    base, folder = served
    good = saved_checkpoint(tmp_path)
    (folder / "weights.pth").write_bytes(Path(good).read_bytes())
    url = f"{base}/weights.pth"
    assert load_checkpoint_safely(url)["state_dict"]  # downloaded, cached, read safely
    marker = tmp_path / "ran"
    torch.save({"state_dict": {}, "x": Payload(marker)}, download_cache_path(url))
    message = train_with(capsys, tmp_path, f"load_from={url}")
    assert not marker.exists()
    assert "safe loader" in message


def test_a_clean_checkpoint_from_a_url_evaluates(capsys, tmp_path, served) -> None:
    base, folder = served
    good = saved_checkpoint(tmp_path)
    (folder / "weights.pth").write_bytes(Path(good).read_bytes())
    code = main(lambda: evaluate_tool([CONFIG, f"{base}/weights.pth", "--work-dir", str(tmp_path)]))
    assert code == 0, capsys.readouterr().err
    assert os.path.isfile(download_cache_path(f"{base}/weights.pth"))


def test_model_zoo_names_resolve_to_the_safe_loader(tmp_path, served, monkeypatch) -> None:
    """torchvision://, open-mmlab:// and mmcls:// names (the pose recipes' pretrained weights)."""
    marker = tmp_path / "ran"
    url = payload_url(served, marker)
    monkeypatch.setattr(mmengine_checkpoint, "get_torchvision_models", lambda: {"net": url})
    monkeypatch.setattr(mmengine_checkpoint, "get_external_models", lambda: {"net": url})
    monkeypatch.setattr(mmengine_checkpoint, "get_mmcls_models", lambda: {"net": url})
    for name in ("torchvision://net", "open-mmlab://net", "mmcls://net"):
        with pytest.raises(CheckpointError, match="safe loader"):
            mmengine_checkpoint._load_checkpoint(name)
    assert not marker.exists()


def test_a_qat_float_checkpoint_url_is_read_safely(tmp_path, served) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(CheckpointError, match="safe loader"):
        float_state_dict(payload_url(served, marker))
    assert not marker.exists()


def test_an_unreachable_url_is_one_paragraph(capsys, tmp_path, served) -> None:
    base, _ = served
    message = train_with(capsys, tmp_path, f"load_from={base}/missing.pth")
    assert "could not be downloaded" in message and "local path" in message


def _train(argv: list[str]) -> object:
    from arsam.tools.train import run

    return run(argv)
