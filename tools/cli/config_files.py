"""Reading a config file and applying ``--cfg-options``: one paragraph for each way it fails.

MMEngine reports a syntax error without the file's name (``<unknown>``), a missing
``_base_`` as a bare FileNotFoundError and an override that does not fit the config as a
TypeError about "child" and "base" configs. When reading fails, the config and its bases
are parsed again here to name the file, the line and the fix.
"""

from __future__ import annotations

import ast
import json
import os.path as osp
from typing import Any

import yaml
from mmengine.config import Config

from .errors import UserError

CONFIG_SUFFIXES = (".py", ".json", ".yaml", ".yml")
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin", ".safetensors", ".tar")
_PARSE_ERRORS = (SyntaxError, ValueError, yaml.YAMLError)


def read_config_file(path: str) -> Config:
    """The config at ``path``; UserError if it is missing, not a config, or broken."""
    if not osp.isfile(path):
        raise UserError(
            f"config file {path!r} not found. Configs live under configs/<task>/, for example "
            "configs/classification/digits_arsam.py or configs/pose/hrnet_arsam.py; run from "
            "the repository root or give the full path."
        )
    _check_is_config(path)
    try:
        return Config.fromfile(path)
    except (FileNotFoundError, *_PARSE_ERRORS) as error:
        problem = _first_problem(path, depth=0)
        if problem is None:
            raise
        raise UserError(f"config {path!r} cannot be read: {problem}") from error


def _check_is_config(path: str) -> None:
    """Raise UserError unless ``path`` has a config file's suffix."""
    if path.endswith(CONFIG_SUFFIXES):
        return
    if path.lower().endswith(CHECKPOINT_SUFFIXES):
        raise UserError(
            f"{path!r} is a checkpoint, not a config: the first argument is the config "
            "(configs/<task>/NAME.py). Give the checkpoint after it: tools/test.py CONFIG "
            f"{path}, or tools/train.py CONFIG --resume {path} (or --cfg-options "
            f"load_from={path} to start from its weights)."
        )
    raise UserError(
        f"{path!r} is not a config file: a config is a Python (.py), YAML (.yml, .yaml) or "
        "JSON (.json) file, for example configs/classification/digits_arsam.py. Give a "
        "config as the first argument."
    )


def _first_problem(path: str, depth: int) -> str | None:
    """The first syntax error or missing base in the config at ``path`` and its bases."""
    try:
        bases = _base_files(path)
    except SyntaxError as error:
        return (
            f"syntax error in {error.filename or path} line {error.lineno}: {error.msg}. "
            "Correct that line (configs are Python: dict(key=value, ...), lists in [...])."
        )
    except (ValueError, yaml.YAMLError) as error:
        return f"syntax error in {path}{_described(error)}. Correct the file."
    for base in bases:
        if not osp.isfile(base):
            return (
                f"{path} names the _base_ file {base!r}, which does not exist. _base_ paths "
                f"are relative to the folder of the config that names them ({osp.dirname(path)}"
                "); correct the path in its _base_ list."
            )
        found = _first_problem(base, depth + 1) if depth < 32 else None
        if found is not None:
            return found
    return None


def _described(error: Exception) -> str:
    """`` line N: what`` for a JSON or YAML parse error."""
    if isinstance(error, json.JSONDecodeError):
        return f" line {error.lineno}, column {error.colno}: {error.msg}"
    mark, problem = getattr(error, "problem_mark", None), getattr(error, "problem", None)
    if mark is not None and problem:
        return f" line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return f": {' '.join(str(error).split())}"


def _base_files(path: str) -> list[str]:
    """The paths of the ``_base_`` files the config at ``path`` names (scoped ones left out)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith(".py"):
        names = _python_bases(ast.parse(text, filename=path))
    elif path.endswith(".json"):
        names = (json.loads(text) or {}).get("_base_")
    else:
        names = (yaml.safe_load(text) or {}).get("_base_")
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list):
        return []
    folder = osp.dirname(osp.abspath(path))
    return [
        osp.normpath(osp.join(folder, name))
        for name in names
        if isinstance(name, str) and "::" not in name
    ]


def _python_bases(tree: ast.Module) -> Any:
    """The value assigned to ``_base_`` in a Python config (None: none, or not a literal)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "_base_" for target in node.targets
        ):
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                return None
    return None


def apply_cfg_options(cfg: Config, options: dict[str, Any]) -> None:
    """Merge the ``--cfg-options`` overrides into ``cfg``; UserError for one that does not fit."""
    options = {key: config_value(value) for key, value in options.items()}
    try:
        cfg.merge_from_dict(options)
    except (TypeError, KeyError) as error:
        for key, value in options.items():
            problem = _misfit(cfg, key)
            if problem is not None:
                raise UserError(
                    f"--cfg-options {key}={_shown(value)}: {problem} Check the key path "
                    "against the config (python tools/analysis_tools/print_config.py CONFIG "
                    "prints it)."
                ) from error
        raise


def config_value(value: Any) -> Any:
    """``value`` with each ``dict(key=literal, ...)`` string (as a config writes it) made a dict.

    MMEngine's ``DictAction`` parses lists and tuples but leaves ``dict(...)`` as text, so
    ``visualizer.vis_backends=[dict(type='TensorboardVisBackend')]`` would set a list of strings.
    """
    if isinstance(value, (list, tuple)):
        return type(value)(config_value(item) for item in value)
    if not isinstance(value, str) or not value.startswith("dict("):
        return value
    try:
        call = ast.parse(value, mode="eval").body
    except SyntaxError:
        return value
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)) or call.args:
        return value
    if call.func.id != "dict" or any(k.arg is None for k in call.keywords):
        return value
    try:
        return {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    except ValueError:
        return value


def _misfit(cfg: Config, key: str) -> str | None:
    """Why the dotted ``key`` cannot be set in ``cfg`` (None: it can)."""
    node: Any = cfg.to_dict()
    parts = key.split(".")
    for depth, part in enumerate(parts[:-1]):
        prefix = ".".join(parts[: depth + 1])
        if isinstance(node, dict):
            if part not in node:
                return None  # a new entry: merging creates it
            node = node[part]
        elif isinstance(node, list) and part.isdigit():
            if int(part) >= len(node):
                parent = ".".join(parts[:depth])
                return (
                    f"{parent} has {len(node)} entries (indices 0 to {len(node) - 1}), so "
                    f"there is no entry {part}."
                )
            node = node[int(part)]
        else:
            return None
        if not isinstance(node, dict | list):
            return (
                f"{prefix} is {node!r} in the config, not a dict, so it has no entry "
                f"{parts[depth + 1]!r}. Set {prefix} itself (--cfg-options {prefix}=VALUE)."
            )
    return None


def _shown(value: Any) -> str:
    """An override's value as it was typed, near enough."""
    if isinstance(value, list | tuple):
        return ",".join(_shown(v) for v in value)
    return str(value)
