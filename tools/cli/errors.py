"""User errors: one paragraph that says what to do, printed instead of a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class UserError(Exception):
    """A problem with the user's input, explained in one paragraph."""


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors a user can fix into UserError, with the original message."""
    try:
        yield
    except FileNotFoundError as error:
        raise UserError(str(error)) from error
    except KeyError as error:
        message = str(error.args[0]) if error.args else str(error)
        if "registry" in message:
            raise UserError(
                f"{message.strip()} Check the 'type' names in the config and that "
                "custom_imports lists the task package that registers them."
            ) from error
        raise


def main(run: Callable[[], Any]) -> int:
    """Run ``run``; print a UserError's paragraph and return 2 instead of a traceback."""
    try:
        run()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
