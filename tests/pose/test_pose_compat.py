"""The compatibility shims in tasks/pose/compat.py."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

from arsam.tasks.pose import compat
from tests.pose.helpers import CONFIGS, REPO

needs_stand_in = pytest.mark.skipif(
    compat.has_compiled_mmcv(), reason="a compiled mmcv is installed; the stand-in is not used"
)


@needs_stand_in
def test_stand_in_is_registered_and_mmpose_models_import() -> None:
    assert compat.is_ext_stand_in(sys.modules[compat.EXT_NAME])
    import mmcv.ops  # noqa: F401
    import mmpose.models  # noqa: F401


def test_stand_in_has_a_spec_and_refuses_dunder_attributes() -> None:
    module = compat.make_ext_stand_in()
    assert module.__spec__.name == "mmcv._ext" and module.__spec__.loader is None
    for name in ("__file__", "__path__", "__wrapped__", "__all__"):
        assert not hasattr(module, name)
    assert callable(module.nms) and module.nms.__name__ == "nms"


def test_calling_an_op_names_it_and_says_what_to_install() -> None:
    with pytest.raises(compat.MissingCompiledOpError, match=r"'roi_align_forward'.*compiled mmcv"):
        compat.make_ext_stand_in().roi_align_forward(torch.zeros(1))


@needs_stand_in
def test_an_mmcv_op_fails_clearly_at_call_time() -> None:
    from mmcv.ops import nms

    boxes, scores = torch.tensor([[0.0, 0.0, 1.0, 1.0]]), torch.tensor([0.9])
    with pytest.raises(compat.MissingCompiledOpError, match="'nms'"):
        nms(boxes, scores, 0.5)


def test_applying_twice_keeps_one_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, compat.EXT_NAME, raising=False)
    monkeypatch.setattr(compat, "has_compiled_mmcv", lambda: False)
    compat.apply_all()
    first = sys.modules[compat.EXT_NAME]
    compat.apply_all()
    assert sys.modules[compat.EXT_NAME] is first and compat.is_ext_stand_in(first)


def test_steps_aside_for_a_compiled_extension(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    package = tmp_path / "mmcv"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "_ext.py").write_text("COMPILED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("mmcv", compat.EXT_NAME):
        monkeypatch.setitem(sys.modules, name, None)
        monkeypatch.delitem(sys.modules, name)
    assert compat.has_compiled_mmcv()
    assert compat.install_mmcv_ext_stand_in() is False
    assert compat.EXT_NAME not in sys.modules
    assert importlib.import_module(compat.EXT_NAME).COMPILED


def test_leaves_an_already_imported_extension_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    real = types.ModuleType(compat.EXT_NAME)
    monkeypatch.setitem(sys.modules, compat.EXT_NAME, real)
    assert compat.install_mmcv_ext_stand_in() is False
    assert sys.modules[compat.EXT_NAME] is real and compat.has_compiled_mmcv()


def test_custom_imports_alone_make_a_config_buildable() -> None:
    script = (
        "from mmengine.config import Config\n"
        "from mmengine.registry import MODELS, init_default_scope\n"
        f"cfg = Config.fromfile({str(CONFIGS / 'hrnet_arsam.py')!r})\n"
        "init_default_scope(cfg.default_scope)\n"
        "model = MODELS.build(cfg.model)\n"
        "print(type(model).__name__, sum(p.numel() for p in model.parameters()))\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={"OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    name, params = result.stdout.split()[-2:]
    assert name == "TopdownPoseEstimator" and 28_000_000 < int(params) < 29_000_000
