"""The arguments of what the Runner builds from a registry, checked against the class.

MMEngine builds the hooks, the visualizer, the log processor and the parameter schedulers
from their config dicts; a misspelt keyword fails when the object is built or, for
CheckpointHook, which passes unknown keywords on to ``Runner.save_checkpoint``, only when
the first checkpoint is written, after a whole interval of training, with nothing saved.
"""

from __future__ import annotations

from typing import Any

from mmengine.config import Config
from mmengine.hooks import CheckpointHook
from mmengine.registry import (
    HOOKS,
    LOG_PROCESSORS,
    PARAM_SCHEDULERS,
    VISBACKENDS,
    VISUALIZERS,
    Registry,
)

from .signatures import accepted_arguments, reject_unknown

# CheckpointHook's **kwargs go to Runner.save_checkpoint, which takes none the hook does not
# already pass itself.
_CLOSED = (CheckpointHook,)


def check_registry_arguments(cfg: Config) -> None:
    """Raise UserError for a keyword that a hook, visualizer, logger or scheduler does not take."""
    scope = cfg.get("default_scope", "mmengine")
    default_hooks = cfg.get("default_hooks")
    if isinstance(default_hooks, dict):
        for name, hook in default_hooks.items():
            _check_block(hook, HOOKS, f"default_hooks.{name}", scope, given_by_runner={"priority"})
    for index, hook in enumerate(_entries(cfg.get("custom_hooks"))):
        _check_block(hook, HOOKS, f"custom_hooks[{index}]", scope, given_by_runner={"priority"})
    visualizer = cfg.get("visualizer")
    _check_block(visualizer, VISUALIZERS, "visualizer", scope)
    if isinstance(visualizer, dict):
        for index, backend in enumerate(_entries(visualizer.get("vis_backends"))):
            where = f"visualizer.vis_backends[{index}]"
            _check_block(backend, VISBACKENDS, where, scope, given_by_runner={"name"})
    log_processor = cfg.get("log_processor")
    if isinstance(log_processor, dict):
        log_processor = {"type": "LogProcessor", **log_processor}
    _check_block(log_processor, LOG_PROCESSORS, "log_processor", scope)
    for index, scheduler in enumerate(_entries(cfg.get("param_scheduler"))):
        _check_block(
            scheduler,
            PARAM_SCHEDULERS,
            f"param_scheduler[{index}]",
            scope,
            given_by_runner={"convert_to_iter_based", "epoch_length"},
            supplied={"optimizer"},
        )


def _entries(value: Any) -> list:
    """A config entry that is a list of dicts, or one dict, as a list."""
    if isinstance(value, dict):
        return [value]
    return list(value) if isinstance(value, list | tuple) else []


def _check_block(
    block: Any,
    registry: Registry,
    where: str,
    scope: str | None,
    given_by_runner: frozenset[str] | set[str] = frozenset(),
    supplied: frozenset[str] | set[str] = frozenset(),
) -> None:
    """``block``'s keywords are ``type``, ones its class takes, or ``given_by_runner``.

    ``supplied`` are the constructor's arguments that the builder fills in itself; they are
    not offered to the user.
    """
    if not isinstance(block, dict):
        return
    klass = _resolve(block.get("type"), registry, scope)
    if klass is None:
        return
    accepted = accepted_arguments(klass, closed=_CLOSED)
    if accepted is None:
        return
    listed = accepted - set(supplied)
    allowed = listed | set(given_by_runner) | {"type", "_scope_"}  # the builder pops _scope_
    reject_unknown(block, allowed, where, klass.__name__, listed)


def _resolve(kind: Any, registry: Registry, scope: str | None) -> type | None:
    """The class ``kind`` names in ``registry`` under the run's default scope (None: unknown)."""
    if isinstance(kind, type):
        return kind
    if not isinstance(kind, str):
        return None
    with registry.switch_scope_and_registry(scope) as scoped:
        found = scoped.get(kind)
    return found if isinstance(found, type) else None
