"""Reading and writing a run folder's tables: the CSV files of its history (metrics.csv, steps.csv,
ssim.csv, warnings.csv; their names are gan_lab.runs.layout's), written by the callbacks, read by
the sweep summary, the loss plot and the report, and run.json. Plain ``csv``: one row per epoch,
step or event.

Crash safety (design §9): rows are appended in one fsynced write per epoch, and the callbacks
write them *before* the epoch's checkpoint; a resume drops every row after the checkpoint's
epoch (:func:`truncate_after`), so each epoch and step appears exactly once whatever instant a
run was killed at. A file whose columns change is rewritten atomically.

A run folder may come from someone else: it is data, like a checkpoint (design §9). Its files are
read as regular files only (never through a link, never a FIFO or a device), within a size cap;
its YAML without aliases or interpolation and its JSON within a nesting depth; anything else is
skipped with a warning, never a traceback. :func:`check_no_links` refuses a folder holding links
before a command writes into it.
"""

import csv
import io
import json
import logging
import os
import stat
from pathlib import Path

import yaml

from gan_lab.errors import UserError
from gan_lab.runs.layout import CHECKPOINTS, RUN_INFO
from gan_lab.runs.safe_io import append_atomic, link_message, write_atomic

log = logging.getLogger(__name__)

# What a reader takes from a run folder, at most: a larger file is skipped with a warning. A CSV
# of a long run is far below (steps.csv: ~60 bytes a step); a file above is not one of ours.
MAX_TABLE_BYTES = 64 * 2**20
MAX_YAML_BYTES = 2**20  # Hydra's record of a config: a few kB
MAX_DEPTH = 100  # nesting of run.json and a YAML record (a config is ~4 deep)
MAX_FIELD = 2**20  # one CSV field (Python's csv stops at 128 KiB with an error)
# check_no_links looks at this many entries, this deep, at most (a run has a few hundred files).
SCAN_ENTRIES, SCAN_DEPTH = 200_000, 32
# Files appended to in place (the tables, Hydra's log): one with hard links is refused. The rest
# is replaced whole (written beside, renamed), which leaves a link's other names as they were.
APPENDED = (".csv", ".log")


def check_no_links(run_dir: str | Path, checkpoint: str | Path | None = None) -> None:
    """A UserError naming the first symbolic link (or FIFO, device, socket) inside ``run_dir``, so
    that a command never writes through one: a run folder from someone else is data, and a link
    in it (``metrics.csv`` → ``~/.bashrc``, ``samples/`` → ``~``) would make a resume, a score or
    a report change files outside it. lstat only, never following; bounded in entries and depth.
    A folder that does not exist yet holds nothing.

    ``checkpoint`` (a resume's): the run folder it lies in *as spelled* is checked first. Its
    resolved folder can be another one — ``<run>/checkpoints`` linking to ``~/mine/checkpoints``
    makes the resumed run (``run_dir``) ``~/mine`` — so only the spelled one shows the link."""
    if checkpoint is not None:
        spelled = Path(checkpoint).expanduser().absolute()
        if spelled.parent.name == CHECKPOINTS:  # a loose file's folder is nobody's run
            check_no_links(spelled.parent.parent)
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return
    stack, seen = [(run_dir, 0)], 0
    while stack:
        folder, depth = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue  # unreadable: nothing there can be written through by us either
        for entry in entries:
            seen += 1
            if seen > SCAN_ENTRIES:
                log.warning(
                    "%s holds over %d entries; only the first were checked for links (every "
                    "write still refuses one)",
                    run_dir,
                    SCAN_ENTRIES,
                )
                return
            path = Path(entry.path)
            if entry.is_symlink():
                raise UserError(link_message(path))
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                if depth < SCAN_DEPTH:
                    stack.append((path, depth + 1))
            elif not stat.S_ISREG(info.st_mode):
                raise UserError(
                    f"{path} is not a regular file (a FIFO, a device or a socket): a run folder "
                    "holds files and folders only, and gan-lab neither reads nor writes such an "
                    "entry; nothing was changed. Remove it (or use a copy of the folder without it)."
                )
            elif info.st_nlink > 1 and entry.name.endswith(APPENDED):
                raise UserError(
                    f"{path} is one file with {info.st_nlink} names (hard links): gan-lab appends "
                    "to it (a table, a log), which would change it under its other names too, "
                    "outside this folder perhaps; nothing was changed. Use a copy of the folder "
                    "(cp -r <run> <copy>: a copy has files of its own)."
                )


def read_bytes(path: str | Path, limit: int | None = MAX_TABLE_BYTES) -> bytes | None:
    """The bytes of the regular file ``path``: None (with a warning) for a link, a FIFO, a device,
    a folder or a file over ``limit`` bytes (None: no cap — the run's own history being rewritten),
    none of which is ever read; None without a word when there is nothing at ``path``."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as err:
        why = "a symbolic link" if path.is_symlink() else err.strerror or str(err)
        log.warning(
            "%s is not read: %s (a run folder's files are read as regular files)", path, why
        )
        return None
    with open(fd, "rb") as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            log.warning("%s is not read: not a regular file (a FIFO, a device or a folder)", path)
            return None
        if limit is not None and info.st_size > limit:
            log.warning("%s is not read: %d bytes, over the cap of %d", path, info.st_size, limit)
            return None
        data = f.read() if limit is None else f.read(limit + 1)
    if limit is not None and len(data) > limit:  # grew while being read
        log.warning("%s is not read: over the cap of %d bytes", path, limit)
        return None
    return data


def too_deep(value, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests lists and dicts deeper than ``limit`` (without recursion: a
    5,000-deep value must be refused, not overflow the stack)."""
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack += [(v, depth + 1) for v in node.values()]
        elif isinstance(node, list):
            stack += [(v, depth + 1) for v in node]
    return False


class _NoAliases(yaml.SafeLoader):
    """YAML as plain data: safe tags only, and no aliases (``*a`` repeating ``&a``), which a
    "billion laughs" file nests to grow ×10 a level; Hydra never writes one."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError(f"an alias (*{self.peek_event().anchor}): not read")
        return super().compose_node(parent, index)


def read_yaml(path: str | Path, limit: int = MAX_YAML_BYTES):
    """A YAML record of the folder (``.hydra/config.yaml``, ``overrides.yaml``) as plain data, or
    None with a warning: within ``limit`` bytes and MAX_DEPTH, no aliases, nothing resolved (an
    ``${oc.env:...}`` stays text). None without a word when the file is not there."""
    data = read_bytes(path, limit)
    if data is None:
        return None
    try:
        value = yaml.load(data.decode("utf-8"), Loader=_NoAliases)  # noqa: S506 — safe + no alias
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as err:
        log.warning("%s is not read: not plain YAML (%s)", path, str(err).splitlines()[0][:200])
        return None
    if too_deep(value):
        log.warning("%s is not read: nested deeper than %d levels", path, MAX_DEPTH)
        return None
    return value


def _text(fields: list[str], rows: list[dict], header: bool) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _rows(path: Path, text: str, strict: bool) -> list[dict]:
    """The rows of ``text``. A malformed line (a field over csv's 128 KiB, a NUL) ends the table:
    a warning and the rows before it for a reader; a UserError when ``strict`` (the file is about
    to be rewritten, which would drop the rows after it)."""
    reader, rows = csv.DictReader(io.StringIO(text)), []
    try:
        rows.extend(reader)
    except csv.Error as err:
        said = f"{path}: {err}; not a table gan-lab wrote"
        if strict:
            raise UserError(f"{said}. Nothing was changed: remove or repair the file.") from None
        log.warning("%s (its rows from there on are not read)", said)
    return rows


def _complete(data: bytes | None) -> str:
    """The text of the complete lines: a partial last line (a kill during an append) is dropped."""
    text = (data or b"").decode("utf-8", errors="replace")
    return text[: text.rfind("\n") + 1] if text and not text.endswith("\n") else text


def read_rows(path: Path, limit: int | None = MAX_TABLE_BYTES) -> list[dict]:
    """The complete rows; a partial last line (a kill during an append) is ignored. A link, a
    FIFO, a device or a file over ``limit`` bytes is not read (read_bytes): no rows."""
    return _rows(Path(path), _complete(read_bytes(path, limit)), strict=False)


def _header(text: str) -> list[str]:
    first = text.split("\n", 1)[0]
    try:
        return list(next(csv.reader([first]), []))
    except csv.Error:
        return []


def append_rows(path: Path, new_rows: list[dict]) -> None:
    """Append rows; if new columns appear (e.g. a metric logged later), rewrite with the union."""
    if not new_rows:
        return
    keys = list(dict.fromkeys(k for row in new_rows for k in row))
    data = read_bytes(path, None) or b""  # the run's own history: never capped
    old = _header(data.decode("utf-8", errors="replace"))
    if old and all(k in old for k in keys) and data.endswith(b"\n"):
        append_atomic(path, _text(old, new_rows, header=False))
        return
    fields = old + [k for k in keys if k not in old]
    rows = _rows(path, _complete(data), strict=True)
    write_atomic(path, _text(fields, rows + new_rows, header=True).encode())


def epoch_of_row(row: dict) -> int | None:
    """A row's epoch as a whole number (an empty cell: 0); None for text, nan or inf."""
    try:
        return int(float(row.get("epoch") or 0))
    except (TypeError, ValueError, OverflowError):
        return None


def truncate_after(path: Path, epoch: int) -> int:
    """Drop the rows of epochs after ``epoch`` (a resume continues from there); returns how many.
    A row whose epoch is not a number belongs to no epoch and is dropped too, with a warning."""
    data = read_bytes(path, None)
    if data is None:
        return 0
    text = _complete(data)
    rows = _rows(path, text, strict=True)
    keep = [r for r in rows if (e := epoch_of_row(r)) is not None and e <= epoch]
    if odd := sum(epoch_of_row(r) is None for r in rows):
        log.warning("%s: %d row(s) whose epoch is not a number were dropped", path, odd)
    if len(keep) != len(rows) or not data.endswith(b"\n"):
        write_atomic(path, _text(_header(text), keep, header=True).encode())
    return len(rows) - len(keep)


# run.json's parts and the type each must have: a part of another type is dropped with a warning.
INFO_PARTS = {"config": dict, "sessions": list, "data": dict, "networks": dict, "grid": dict}


def read_info(run_dir: Path) -> dict:
    """run.json, or {} when the run has none (older runs, a run killed before it started) — or
    one that is not JSON, not an object, over the size cap or nested deeper than MAX_DEPTH, with
    a warning. Its known parts have their types (INFO_PARTS); sessions are objects."""
    path = Path(run_dir) / RUN_INFO
    data = read_bytes(path)
    if data is None:
        return {}
    try:
        info = json.loads(data)
    except (ValueError, RecursionError) as err:
        log.warning("%s is not read: not JSON (%s)", path, str(err)[:200])
        return {}
    if not isinstance(info, dict) or too_deep(info):
        log.warning("%s is not read: not a JSON object of at most %d levels", path, MAX_DEPTH)
        return {}
    for key, kind in INFO_PARTS.items():
        if key in info and not isinstance(info[key], kind):
            log.warning("%s: its %r is not a %s; ignored", path, key, kind.__name__)
            del info[key]
    if "sessions" in info:
        info["sessions"] = [s for s in info["sessions"] if isinstance(s, dict)]
    return info


def write_info(run_dir: Path, info: dict) -> None:
    write_atomic(
        Path(run_dir) / RUN_INFO, (json.dumps(info, indent=1, default=str) + "\n").encode()
    )
