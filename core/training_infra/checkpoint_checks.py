"""Checks on a checkpoint before it is resumed, loaded or evaluated, and finding the one to resume.

Every problem is a ``CheckpointError`` whose message is one paragraph naming the file, what
is wrong with it and what to do instead. Files are read with torch's weights-only
unpickler: a file that needs anything else is refused, never loaded unsafely. Before that,
every record of a checkpoint's zip archive is checked against the CRC-32 written with it
(torch does not check them), so a file whose bytes changed after the save is refused rather
than loaded with damaged tensors; this reads the file once more (0.02 s for a 100 MB file
in the page cache, against 0.05 s for torch.load itself).
"""

from __future__ import annotations

import os
import os.path as osp
import pickle
import re
import struct
import zipfile
from collections import OrderedDict
from typing import Any

import torch
from mmengine.logging import print_log
from torch import nn

from .checkpoint_hook import POINTER

_NUMBERED = re.compile(r"(epoch|iter)_(\d+)\.pth")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used as asked, explained in one paragraph."""


def read_checkpoint(path: str) -> dict[str, Any]:
    """The contents of the checkpoint at ``path``, loaded safely, or a CheckpointError."""
    if not osp.isfile(path):
        raise CheckpointError(f"checkpoint {path!r} not found; give the path of a .pth file.")
    if osp.getsize(path) == 0:
        raise CheckpointError(
            f"checkpoint {path!r} is empty: the process that wrote it stopped before writing "
            "anything. Use another checkpoint of the run (the work directory's last_checkpoint "
            "names the newest complete one)."
        )
    _check_format(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL ([\w.]+)", str(error))
        if found is None:
            raise CheckpointError(_unreadable(path, "not a pickle torch can read")) from None
        what = f" ({found.group(1)})"
        raise CheckpointError(
            f"checkpoint {path!r} holds Python objects{what} that the safe loader does not "
            "run, because unpickling them can execute code. Checkpoints written by this "
            "project, and weights-only files from tools/publish_checkpoint.py, load safely; "
            "for a file from elsewhere, re-save just its tensors (torch.save of the "
            "state_dict) where you trust its source."
        ) from None
    except _UNREADABLE as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CheckpointError(_unreadable(path, reason)) from None
    if not isinstance(checkpoint, dict):
        raise CheckpointError(
            f"checkpoint {path!r} holds a {type(checkpoint).__name__}, not a checkpoint "
            "dictionary with a 'state_dict'; give a .pth file written by tools/train.py."
        )
    return checkpoint


# What torch's loader raises on bytes that are no checkpoint (a KeyError or IndexError comes
# from the weights-only unpickler meeting an opcode or a stack it does not expect).
_UNREADABLE = (
    RuntimeError,
    EOFError,
    OSError,
    zipfile.BadZipFile,
    ValueError,
    KeyError,
    IndexError,
    struct.error,
)
_ZIP_MAGIC = b"PK\x03\x04"
_TEXT_PROBE = 512


def _check_format(path: str) -> None:
    """CheckpointError for a text file or a zip archive with a damaged record."""
    with open(path, "rb") as f:
        head = f.read(_TEXT_PROBE)
    if head.startswith(_ZIP_MAGIC):
        check_records(path)
    elif _is_text(head):
        raise CheckpointError(_text_file(path, head))


def check_records(path: str) -> None:
    """CheckpointError unless every record of the zip archive at ``path`` matches its CRC-32."""
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CheckpointError(_unreadable(path, reason)) from None
    if damaged is not None:
        what = " (the bytes of a tensor)" if re.search(r"/data/\d+$", damaged) else ""
        raise CheckpointError(
            f"checkpoint {path!r} is damaged: its record {damaged!r}{what} does not match the "
            "CRC-32 checksum written with it, so its bytes changed after the save (a disk, "
            "copy or transfer error) and its tensors cannot be trusted. It is not loaded: "
            "copy the file again from its source, or use another checkpoint of the run (the "
            "work directory's last_checkpoint names the newest complete one)."
        )


def _is_text(head: bytes) -> bool:
    """Whether a file's first bytes are printable text (a checkpoint has binary headers)."""
    if not head or b"\0" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:  # a character cut at the probe's end is still text
        if error.start < len(head) - 3:
            return False
        text = head[: error.start].decode("utf-8")
    return all(c.isprintable() or c in "\t\r\n\f" for c in text)


def _text_file(path: str, head: bytes) -> str:
    text = head.decode("utf-8", errors="ignore")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    hint = ""
    if osp.isfile(first) and first != path:
        hint = f" It names {first!r}: give that path if it is the checkpoint you meant."
    return (
        f"checkpoint {path!r} is a text file, not a PyTorch checkpoint (it begins "
        f"{first[:60]!r}). Give a .pth file written by tools/train.py or "
        f"tools/publish_checkpoint.py.{hint}"
    )


def _unreadable(path: str, reason: str) -> str:
    return (
        f"checkpoint {path!r} is not a readable PyTorch checkpoint ({reason}): it is "
        "truncated, corrupt or another kind of file. Use another checkpoint of the run "
        "(the work directory's last_checkpoint names the newest complete one)."
    )


def check_resumable(checkpoint: dict[str, Any], path: str, needs_schedulers: bool) -> None:
    """Refuse to resume from a file without the optimizer's (or the schedules') state."""
    missing = [] if "optimizer" in checkpoint else ["the optimizer"]
    if needs_schedulers and "param_schedulers" not in checkpoint:
        missing.append("the learning-rate schedule")
    if "meta" not in checkpoint or "epoch" not in (checkpoint.get("meta") or {}):
        missing.append("the training progress")
    if missing:
        raise CheckpointError(
            f"--resume {path!r}: the file holds no state of {' or '.join(missing)} (best_*.pth "
            "and published checkpoints keep the weights only), so training would restart its "
            "schedule and ARSAM's warm-up. Resume from epoch_*.pth or iter_*.pth (or give "
            "--resume without a path for the newest one), or start a new run from these "
            "weights with --cfg-options load_from=PATH instead of --resume."
        )


ALLOW_NONFINITE_KEY = "allow_nonfinite_checkpoint"


def check_finite_weights(checkpoint: dict[str, Any], path: str, allowed: bool = False) -> None:
    """CheckpointError if a floating weight of ``checkpoint`` is inf or NaN, unless ``allowed``."""
    if allowed:
        return
    floating = {
        name: value
        for name, value in state_dict_of(checkpoint).items()
        if isinstance(value, torch.Tensor) and (value.is_floating_point() or value.is_complex())
    }
    bad = [name for name, value in floating.items() if not bool(torch.isfinite(value).all())]
    if bad:
        raise CheckpointError(
            f"checkpoint {path!r} holds non-finite weights: {len(bad)} of its {len(floating)} "
            f"floating-point tensors contain inf or NaN (e.g. {bad[0]}), so every result "
            "computed from it is meaningless; the run that wrote it diverged or the file was "
            "altered. Use an earlier checkpoint of the run. To load it anyway (to examine the "
            f"failure), set {ALLOW_NONFINITE_KEY}=True in the config (--cfg-options "
            f"{ALLOW_NONFINITE_KEY}=True) or pass --allow-nonfinite to tools/test.py or "
            "tools/publish_checkpoint.py."
        )


def state_dict_of(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The model weights in ``checkpoint``, without a DDP 'module.' prefix."""
    weights = checkpoint.get("state_dict", checkpoint)
    renamed = OrderedDict((re.sub(r"^module\.", "", k), v) for k, v in weights.items())
    metadata = getattr(weights, "_metadata", None)
    if metadata is not None:
        renamed._metadata = OrderedDict(  # type: ignore[attr-defined]
            (re.sub(r"^module\.?", "", k), v) for k, v in metadata.items()
        )
    return renamed


_SIZE_MISMATCH = re.compile(
    r"size mismatch for ([\w.]+): copying a param with shape (torch\.Size\(\[[^\]]*\]\)) "
    r"from checkpoint, the shape in current model is (torch\.Size\(\[[^\]]*\]\))"
)


def check_model_matches(model: nn.Module, checkpoint: dict[str, Any], path: str) -> None:
    """Load ``checkpoint``'s weights into ``model``; CheckpointError unless they are all its own.

    Loading (rather than comparing names) lets modules that create tensors lazily, such as
    Brevitas' statistics-initialised scales, accept them as they do in MMEngine's own load,
    which follows and loads the same weights again.
    """
    module = getattr(model, "module", model)
    try:
        result = module.load_state_dict(state_dict_of(checkpoint), strict=False)
        missing, unexpected = list(result.missing_keys), list(result.unexpected_keys)
    except RuntimeError as error:
        resized = _SIZE_MISMATCH.findall(str(error))
        if not resized:
            raise CheckpointError(
                f"checkpoint {path!r} does not fit the model of this config "
                f"({str(error).splitlines()[0]}). Give the config the checkpoint was trained "
                "with, or a checkpoint of this config's model."
            ) from None
        resized = [(name, _shape(found), _shape(expected)) for name, found, expected in resized]
        missing, unexpected = [], []
    else:
        resized = []
    raise_unless_fits(path, resized, missing, unexpected)


def raise_unless_fits(
    path: str,
    resized: list[tuple[str, Any, Any]],
    missing: list[str],
    unexpected: list[str],
) -> None:
    """CheckpointError naming what differs, if anything does: (name, in file, in model) etc."""
    details = []
    if resized:
        name, found, expected = resized[0]
        details.append(
            f"{len(resized)} tensors differ in shape (e.g. {name}: {found} in the file, "
            f"{expected} in the model)"
        )
    if missing:
        details.append(f"{len(missing)} of the model's tensors are absent (e.g. {missing[0]})")
    if unexpected:
        details.append(f"{len(unexpected)} tensors are not the model's (e.g. {unexpected[0]})")
    if details:
        raise CheckpointError(
            f"checkpoint {path!r} was not written by the model of this config: "
            f"{'; '.join(details)}. Give the config the checkpoint was trained with, or a "
            "checkpoint of this config's model."
        )


def _shape(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text))


def find_resumable_checkpoint(work_dir: str) -> str | None:
    """The newest complete checkpoint with optimizer state in ``work_dir``, or None.

    ``last_checkpoint`` names it unless the run was killed at an unlucky instant or the
    file was damaged afterwards; then the numbered checkpoints are tried, newest first.
    """
    candidates: list[str] = []
    pointer = osp.join(work_dir, POINTER)
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        if named:
            candidates.append(named)
    numbered = []
    if osp.isdir(work_dir):
        for name in os.listdir(work_dir):
            match = _NUMBERED.fullmatch(name)
            if match:
                numbered.append((int(match.group(2)), osp.join(work_dir, name)))
    candidates += [path for _, path in sorted(numbered, reverse=True)]
    for i, path in enumerate(dict.fromkeys(candidates)):
        try:
            checkpoint = read_checkpoint(path)
        except CheckpointError as error:
            print_log(f"Not resuming from it: {error}", logger="current")
            continue
        if "optimizer" not in checkpoint:
            continue
        if i > 0:
            print_log(f"Resuming from {path}, the newest complete checkpoint.", logger="current")
        return path
    return None


# Options that choose an implementation, not the maths; a run may change them on resume.
_IMPLEMENTATION_OPTIONS = frozenset(
    {"params", "param_names", "foreach", "fused", "capturable", "differentiable"}
)


def check_optimizer_settings(
    saved_groups: list[dict[str, Any]],
    current_groups: list[dict[str, Any]],
    saved_base: dict[str, Any] | None = None,
    current_base: dict[str, Any] | None = None,
) -> None:
    """CheckpointError naming every optimizer hyper-parameter whose saved value is not this run's.

    Compares each parameter group (and MMEngine's ``base_param_settings``) of a checkpoint
    with the freshly built optimizer's, as torch.optim would restore them. A setting a
    parameter scheduler drives (``initial_<name>`` on both sides) is compared through its
    initial value: its current value is the schedule's, which the resume continues.
    """
    if len(saved_groups) != len(current_groups):
        raise CheckpointError(
            "the checkpoint's optimizer state does not fit this run: it holds "
            f"{len(saved_groups)} parameter groups, this run's optimizer {len(current_groups)} "
            "(the model or optim_wrapper.paramwise_cfg changed). Resume with the config the "
            "checkpoint was trained with, or start a new optimizer state from its weights with "
            "--cfg-options load_from=PATH instead of --resume."
        )
    groups_of: dict[str, list[int]] = {}
    for index, (saved, current) in enumerate(zip(saved_groups, current_groups, strict=True)):
        differences = setting_differences(saved, current)
        if len(saved["params"]) != len(current["params"]):
            sizes = f"{len(saved['params'])} parameters in the checkpoint, {len(current['params'])}"
            differences.insert(0, f"{sizes} in this run")
        for difference in differences:
            groups_of.setdefault(difference, []).append(index)
    problems = [f"{what} (parameter {_numbers(indices)})" for what, indices in groups_of.items()]
    if saved_base is not None and current_base is not None:
        base = setting_differences(saved_base, current_base)
        problems += [f"{d} (base_param_settings)" for d in base if d not in groups_of]
    if problems:
        raise CheckpointError(
            "the checkpoint's optimizer state does not fit this run: its optimizer was built "
            f"with other settings ({'; '.join(problems)}). A resume continues with the "
            "checkpoint's settings and would silently replace this config's: resume with the "
            "config the checkpoint was trained with, or start a new optimizer state from its "
            "weights with --cfg-options load_from=PATH instead of --resume."
        )


def setting_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """'name: checkpoint X, this run Y' for each setting of one parameter group that differs."""
    differences = []
    for name, value in saved.items():
        if name in _IMPLEMENTATION_OPTIONS:
            continue
        initial = f"initial_{name}"
        if initial in saved and initial in current:
            continue  # driven by a scheduler: compared through its initial value
        if name not in current:
            differences.append(f"{name}: checkpoint {value!r}, this run has no such setting")
        elif _plain(value) != _plain(current[name]):
            differences.append(f"{name}: checkpoint {value!r}, this run {current[name]!r}")
    return differences


def _numbers(indices: list[int]) -> str:
    """'group 3' or 'groups 0-5, 8' for sorted group indices."""
    runs: list[list[int]] = []
    for index in indices:
        if runs and index == runs[-1][-1] + 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    text = ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)
    return f"group{'s' if len(indices) > 1 else ''} {text}"


def _plain(value: Any) -> Any:
    """A comparable form of a setting: tensors as lists, tuples and lists alike."""
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    return value
