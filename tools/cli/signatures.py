"""Which keyword arguments a class takes, and the paragraph for one it does not take."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable

from .errors import UserError


def accepted_arguments(klass: type, closed: tuple[type, ...] = ()) -> set[str] | None:
    """The keyword arguments ``klass`` accepts along its constructor chain (None: any).

    A constructor with ``**kwargs`` passes them on to the next one in the chain, except in
    the ``closed`` classes, whose extra keywords reach a callee that takes no others.
    """
    accepted: set[str] = set()
    for cls in klass.__mro__:
        init = cls.__dict__.get("__init__")
        if init is None:
            continue
        parameters = inspect.signature(init).parameters.values()
        accepted |= {p.name for p in parameters if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        if cls in closed or not any(p.kind is p.VAR_KEYWORD for p in parameters):
            return accepted - {"self", "defaults"}
    return None


def reject_unknown(
    given: Iterable[str], accepted: set[str], where: str, owner: str, listed: set[str]
) -> None:
    """Raise UserError for the first of ``given`` outside ``accepted``, with the closest match."""
    unknown = sorted(set(given) - accepted)
    if not unknown:
        return
    key = unknown[0]
    close = difflib.get_close_matches(key, sorted(listed), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UserError(
        f"{where}: {owner} has no argument {key!r}.{hint} It takes {', '.join(sorted(listed))}."
    )
