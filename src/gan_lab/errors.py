"""Errors a user can cause (bad config, missing files, foreign checkpoints).

They are raised at the boundary and printed by the entry points as one
paragraph, without a stack trace; everything else is a bug and propagates.
"""

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path

import torch


class UserError(Exception):
    """A mistake the user can fix; the message says how."""


class TrainingStopped(UserError):
    """A run stopped on purpose (NaN/Inf, collapse, a failed write): what happened, at which epoch
    and step, what was kept and what to try, in one paragraph."""


def friendly(main: Callable) -> Callable:
    """Wrap an entry point: print a UserError as one paragraph and exit with code 2."""

    @wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 — only user errors are caught, see below
            user = user_error(err)
            if user is None:
                raise
            print(f"\ngan-lab: {user}\n", file=sys.stderr)
            sys.exit(2)

    return wrapper


def user_error(err: BaseException) -> UserError | None:
    """The UserError behind ``err``: itself, or the cause that Hydra's InstantiationException
    (a constructor's error) or Lightning's re-raise wrapped around it."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, UserError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def load_torch_file(path: str | Path, what: str, hint: str = "") -> object:
    """``torch.load`` (CPU, weights only) of a file the user named, or one UserError.

    ``what`` names the file in the message ("checkpoint", "latent vector file");
    ``hint``, when given, tells the user which file to pass instead.
    """
    path = Path(path).expanduser()
    tail = f"; {hint}" if hint else ""
    if not path.is_file():
        raise UserError(f"{what} {path} does not exist{tail}.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 — any unpickling failure means "not ours"
        raise UserError(
            f"{path} is not a readable {what} ({type(err).__name__}: {err}){tail}."
        ) from None
