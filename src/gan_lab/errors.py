"""Errors a user can cause (bad config, missing files, foreign checkpoints).

They are raised at the boundary and printed by the entry points as one
paragraph, without a stack trace; everything else is a bug and propagates.
"""

import os
import sys
import zipfile
from collections.abc import Callable
from functools import wraps
from pathlib import Path

import torch

# What a file the user names may make torch.load allocate (design §9). A checkpoint of this lab is
# tens of MB, the Inception weights about 96 MB; torch.save writes every entry stored (ZIP_STORED),
# so a real file declares as many bytes as it holds. A compressed entry is someone else's doing:
# one that declares over MAX_RATIO times its compressed size is a zip bomb (50 MiB of zeros
# deflate to 51 KB) unless it is small, and the whole archive may declare at most MAX_RATIO times
# the file's size and never over MAX_LOADED_BYTES. torch reads an entry into a buffer of its
# declared size (miniz refuses more), so the declared sizes bound what loading allocates.
MAX_LOADED_BYTES = 4 * 2**30
MAX_RATIO = 20
SMALL_ENTRY = 2**20  # bytes: harmless whatever it compresses to
MAX_ENTRIES = 100_000  # a checkpoint holds one per tensor storage: a few hundred
# The loaded object is walked before anyone reads it: a stride-0 view (torch.zeros(1).expand(10**10)
# is 1.4 KB on disk) becomes 40 GB the moment it is copied (.tolist(), .clone(), torch.cat).
MAX_ELEMENTS = 2**30  # per tensor: 4 GiB of float32, far over any network this lab builds
MAX_OBJECTS = 1_000_000  # containers, values and tensors: a checkpoint has a few thousand
MAX_DEPTH = 64  # nesting: a stored config is about 5 deep


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


def load_torch_file(path: str | Path, what: str, hint: str = "", legacy_ok: bool = False) -> object:
    """``torch.load`` (CPU, weights only) of a file the user named, or one UserError.

    ``what`` names the file in the message ("checkpoint", "latent vector file");
    ``hint``, when given, tells the user which file to pass instead. ``legacy_ok``: a file in
    torch's format from before 1.6 (not a zip) is loaded too — the published Inception weights
    are such a file, downloaded by the user from a known address, not handed over by anyone.
    """
    path = Path(path).expanduser()
    tail = f"; {hint}" if hint else ""
    if path.is_dir():
        raise UserError(f"{path} is a folder, not a {what} file{tail or '; name a file in it'}.")
    if not path.is_file():
        raise UserError(f"{what} {path} does not exist{tail}.")

    def refuse(why: str) -> UserError:
        return UserError(f"{path} is not a readable {what} ({why}); it was not loaded{tail}.")

    try:
        with open(path, "rb") as f:  # one open file for the check and the load: the same bytes
            why = archive_problem(f, os.fstat(f.fileno()).st_size)
            if why and legacy_ok and not zipfile.is_zipfile(f):
                why = None
            if why:
                raise refuse(why)
            f.seek(0)
            loaded = torch.load(f, map_location="cpu", weights_only=True)
    except UserError:
        raise
    except Exception as err:  # noqa: BLE001 — any unpickling failure means "not ours"
        raise refuse(f"{type(err).__name__}: {_one_line(err)}") from None
    why = tensor_problem(loaded)
    if why:
        raise refuse(why)
    return loaded


def _one_line(err: Exception) -> str:
    """An unpickling error in one line of a paragraph: torch's refusal of a pickled global is a
    page of advice (it suggests weights_only=False, which is exactly what must not be done here);
    its last part names what the file asked for."""
    said = " ".join(str(err).replace("\x1b[1m", "").replace("\x1b[0m", "").split())
    said = said.rpartition("WeightsUnpickler error: ")[2]
    return said.split(". ")[0][:300]


def archive_problem(f, file_size: int) -> str | None:
    """What makes the zip archive ``f`` unsafe to load (see MAX_RATIO), in words; None if nothing.
    Reads the central directory only, never an entry."""
    if not zipfile.is_zipfile(f):
        return (
            "not a zip archive: torch.save has written zip archives since torch 1.6; the older "
            "format cannot be checked before it allocates what it declares. A file of your own "
            "loads again after torch.save(torch.load(file), file) in a current torch"
        )
    f.seek(0)
    try:
        entries = zipfile.ZipFile(f).infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        return f"a damaged zip archive: {err}"
    if len(entries) > MAX_ENTRIES:
        return f"{len(entries):,} zip entries, over {MAX_ENTRIES:,}"
    total = 0
    for entry in entries:
        total += entry.file_size
        if (
            entry.compress_type != zipfile.ZIP_STORED
            and entry.file_size > SMALL_ENTRY
            and entry.file_size > MAX_RATIO * entry.compress_size
        ):
            return (
                f"its entry {entry.filename[:80]!r} declares {_bytes(entry.file_size)} compressed "
                f"into {_bytes(entry.compress_size)}, over {MAX_RATIO} times: a zip bomb, never "
                "written by torch.save, which stores entries uncompressed"
            )
    if total > min(MAX_LOADED_BYTES, MAX_RATIO * max(file_size, SMALL_ENTRY)):
        return (
            f"its entries declare {_bytes(total)} in a file of {_bytes(file_size)}, over the "
            f"{_bytes(MAX_LOADED_BYTES)} or {MAX_RATIO} times the file that gan-lab loads"
        )
    return None


def tensor_problem(loaded: object) -> str | None:
    """What makes a loaded object unsafe to use, in words; None if nothing: a tensor with more
    elements than its storage holds (an expanded, stride-0 view: a few bytes on disk that any
    copy turns into gigabytes) or over MAX_ELEMENTS, a non-dense tensor, or a structure nested or
    sized beyond any file gan-lab writes. Walked without recursion, each container once."""
    stack, seen, count = [(loaded, "", 0)], set(), 0
    while stack:
        node, where, depth = stack.pop()
        count += 1
        if count > MAX_OBJECTS:
            return f"over {MAX_OBJECTS:,} objects, more than any file gan-lab writes"
        if isinstance(node, torch.Tensor):
            why = _tensor_problem(node)
            if why:
                return f"its value {where or '(the whole file)'} is {why}"
            continue
        if not isinstance(node, dict | list | tuple | set | frozenset) or id(node) in seen:
            continue
        seen.add(id(node))
        if depth >= MAX_DEPTH:
            return f"its value {where} is nested over {MAX_DEPTH} levels deep"
        if isinstance(node, dict):
            children = ((v, f"{where}[{k!r:.60}]") for k, v in node.items())
        else:
            children = ((v, f"{where}[{i}]") for i, v in enumerate(node))
        stack.extend((child, name, depth + 1) for child, name in children)
        if len(stack) > MAX_OBJECTS:
            return f"over {MAX_OBJECTS:,} objects, more than any file gan-lab writes"
    return None


def _tensor_problem(t: torch.Tensor) -> str | None:
    if t.layout is not torch.strided:
        return f"a {t.layout} tensor (gan-lab writes dense ones only)"
    n = t.numel()
    try:
        stored = t.untyped_storage().nbytes()
    except (RuntimeError, NotImplementedError) as err:
        return f"a tensor without readable storage ({err})"
    if n * t.element_size() > stored:
        return (
            f"a tensor of shape {tuple(t.shape)} whose {n:,} elements share a storage of "
            f"{_bytes(stored)} (an expanded view: {_bytes(n * t.element_size())} once copied)"
        )
    if n > MAX_ELEMENTS:
        return f"a tensor of {n:,} elements, over {MAX_ELEMENTS:,}"
    return None


def _bytes(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"
