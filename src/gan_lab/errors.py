"""Errors a user can cause (bad config, missing files, foreign checkpoints).

They are raised at the boundary and printed by the entry points as one
paragraph, without a stack trace; everything else is a bug and propagates.
"""

import sys
from collections.abc import Callable
from functools import wraps


class UserError(Exception):
    """A mistake the user can fix; the message says how."""


def friendly(main: Callable) -> Callable:
    """Wrap an entry point: print a UserError as one paragraph and exit with code 2."""

    @wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as err:
            print(f"\ngan-lab: {err}\n", file=sys.stderr)
            sys.exit(2)

    return wrapper
