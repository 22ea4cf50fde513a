"""Locks between processes: one training process per run folder (``run_lock``), one worker at a
time on a study's bookkeeping and one writer at a time on a decoded-folder cache (``hold``).

Through filelock: ``flock`` on Linux and macOS, ``msvcrt.locking`` on Windows. The kernel drops
such a lock when its process dies, so a killed run never blocks the next one. No module of gan-lab
imports ``fcntl`` itself: the package imports on Windows.

Some file systems have no ``flock`` (Lustre mounted without ``-o flock``, some FUSE and NFS
mounts). There, taking a lock is one paragraph that says so and how to go on: mount with locks,
work on a disk that has them, or set ``GAN_LAB_SOFT_LOCKS=1``. That setting takes a lock by
creating ``<lock>.held`` with O_EXCL, which works on every file system but outlives a killed
process: the next run is refused (or waits) until that file is deleted, and its message names it.
filelock's own silent fallback to such a lock is switched off for that reason.

A lock file is gan-lab's own: it is never opened through a symbolic link (lstat first, O_NOFOLLOW
where the OS has it) and never truncated; one that is a link, not a plain file or has a second
hard link is refused, so a planted ``.lock → ../notes.txt`` cannot make a run write to the notes.
Who holds a lock is written to ``<lock>.owner`` after it is taken (filelock owns the lock file's
contents) by a rename, which replaces a link rather than writing through it.
"""

import errno
import logging
import os
import socket
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock

from gan_lab.errors import UserError
from gan_lab.runs import layout

log = logging.getLogger(__name__)

SOFT_ENV = "GAN_LAB_SOFT_LOCKS"  # =1: O_EXCL lock files where the file system has no flock
OWNER_SUFFIX = ".owner"  # <lock>.owner: "process <pid> on <host>", while the lock is held
SOFT_SUFFIX = ".held"  # <lock>.held: the O_EXCL lock file of GAN_LAB_SOFT_LOCKS=1
# What a file system without locks answers (Lustre without -o flock: ENOSYS; some NFS: ENOLCK).
NO_LOCKS = {errno.ENOSYS, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", -1), errno.ENOLCK}
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
POLL_S = 0.1  # a soft lock's wait between tries
STALE_WARNING_S = 60.0  # a soft lock waited on this long may be a killed process's: say so
OWNER_BYTES = 200


class Busy(Exception):
    """The lock is held by another process; ``owner`` says which, ``marker`` is the soft lock
    file to delete if that process is gone (None for an OS lock, which dies with its process)."""

    def __init__(self, owner: str, marker: Path | None = None):
        super().__init__(owner)
        self.owner, self.marker = owner, marker


def owner_text() -> str:
    return f"process {os.getpid()} on {socket.gethostname()}"


def soft_locks() -> bool:
    return os.environ.get(SOFT_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def check_lock_file(path: Path) -> None:
    """A UserError unless ``path`` is absent or a plain file with one name: a lock must never
    reach another file through a symbolic or hard link (opening it would touch that file)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        kind = f"a symbolic link (to {os.readlink(path)})"
    elif not stat.S_ISREG(st.st_mode):
        kind = "not a plain file"
    elif st.st_nlink > 1:
        kind = f"a plain file with {st.st_nlink} names (hard links)"
    else:
        return
    raise UserError(
        f"the lock file {path} is {kind}; gan-lab takes its locks on a file of its own and never "
        "opens one through a link, which would write to the file it points to. Nothing was "
        f"changed. Delete {path} (deleting a link leaves what it points to as it is) and start "
        "again."
    )


def create_lock_file(path: Path) -> None:
    """Create ``path`` as an empty lock file if it is absent, never through a link and never
    truncating it; an OSError (a read-only or full disk) is the caller's to explain."""
    check_lock_file(path)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | NOFOLLOW, 0o666))


def no_locks(path: Path, err: BaseException, advice: str) -> UserError:
    """One paragraph for a file system without locks, saying how to go on."""
    return UserError(
        f"cannot lock {path}: the file system it is on has no file locks (flock: "
        f"{getattr(err, 'strerror', None) or err or type(err).__name__}), e.g. Lustre mounted "
        "without -o flock or an NFS mount without its lock service. Without a lock two processes "
        f"could write there at once. Mount it with locks (Lustre: -o flock), {advice}, or set "
        f"{SOFT_ENV}=1 to lock with files created with O_EXCL ({path.name}{SOFT_SUFFIX}): they "
        "work on any file system, but a killed process leaves its file behind, and runs are then "
        "refused (or wait) until you delete it."
    )


def acquire(path: Path, *, blocking: bool, advice: str) -> Callable[[], None]:
    """Take the lock on ``path``; returns what releases it. Non-blocking: ``Busy`` when another
    process holds it. ``advice`` finishes the no-locks paragraph ("or put the run folder on a
    local disk"). An OSError that is not about locks (a read-only folder) propagates."""
    check_lock_file(path)
    if soft_locks():
        return _soft_acquire(path, blocking)
    if filelock.FileLock is getattr(filelock, "SoftFileLock", None):  # no fcntl on this Unix
        raise no_locks(path, OSError(errno.ENOSYS, "fcntl is unavailable"), advice)
    # fallback_to_soft=False: a soft lock that outlives a killed process is chosen by the user.
    lock = filelock.FileLock(str(path), timeout=-1 if blocking else 0, fallback_to_soft=False)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise Busy(read_owner(owner_file(path))) from None
    except NotImplementedError as err:  # filelock < 4 on a file system without flock
        raise no_locks(path, err, advice) from None
    except OSError as err:
        if err.errno in NO_LOCKS:
            raise no_locks(path, err, advice) from None
        if err.errno == errno.ELOOP:  # a link put there since check_lock_file
            check_lock_file(path)
        raise
    return lambda: lock.release()


@contextmanager
def hold(path: Path, advice: str) -> Iterator[None]:
    """The lock on ``path`` for the ``with`` block, waiting for it if another process has it."""
    release = acquire(path, blocking=True, advice=advice)
    try:
        yield
    finally:
        release()


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """One process per run folder: a second one (a resume started twice) would interleave writes.
    Not waited for: the second process is refused with the first one's pid and host."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / layout.RUN_LOCK
    try:
        release = acquire(path, blocking=False, advice="or put the run folder on a local disk")
    except OSError as err:
        raise UserError(
            f"cannot create the lock file {path} ({err.strerror or err}): the run folder must be "
            "writable; make it so, or train into another folder (paths.output_dir=...)."
        ) from None
    except Busy as busy:
        stale = (
            f" If no such process is running, it was killed holding {busy.marker}: delete that "
            "file and start again."
            if busy.marker
            else ""
        )
        raise UserError(
            f"the run folder {run_dir} is in use by {busy.owner}; wait for it to finish (or stop "
            f"it) before resuming, or resume a copy of the folder.{stale}"
        ) from None
    owner, mine = owner_file(path), None
    try:
        mine = None if soft_locks() else _write_owner(owner)  # a soft lock's file says it itself
        yield
    finally:
        if mine is not None:
            _remove_if_same(owner, mine)
        release()


def owner_file(path: Path) -> Path:
    return path.with_name(path.name + OWNER_SUFFIX)


def read_owner(path: Path) -> str:
    """Who holds a lock, as its owner file says: at most OWNER_BYTES printable characters, read
    without following a link or waiting on a FIFO; "another process" when unknown."""
    try:
        fd = os.open(path, os.O_RDONLY | NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return "another process"
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "another process"
        text = os.read(fd, OWNER_BYTES).decode("utf-8", "replace")
    except OSError:
        return "another process"
    finally:
        os.close(fd)
    text = "".join(c for c in text if c.isprintable()).strip()
    return text or "another process"


def _write_owner(owner: Path) -> os.stat_result | None:
    """``owner_text()`` into ``owner``, by a rename (which replaces a link there, never writes
    through it); its stat, so that release removes only this file. None if it cannot be written:
    the lock holds without it, and a second process's message says "another process"."""
    tmp = owner.with_name(f"{owner.name}.{os.getpid()}")
    try:
        tmp.unlink(missing_ok=True)  # a killed process's; a link is removed, not followed
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o644)
        try:
            os.write(fd, owner_text().encode())
            st = os.fstat(fd)
        finally:
            os.close(fd)
        os.replace(tmp, owner)
        return st
    except OSError as err:
        log.warning("cannot write %s (%s): the run goes on", owner, err.strerror or err)
        tmp.unlink(missing_ok=True)
        return None


def _remove_if_same(path: Path, st: os.stat_result) -> None:
    try:
        if os.path.samestat(os.lstat(path), st):
            path.unlink()
    except OSError:
        pass


def _soft_acquire(path: Path, blocking: bool) -> Callable[[], None]:
    """GAN_LAB_SOFT_LOCKS=1: the lock is ``<lock>.held``, created with O_EXCL (which fails on an
    existing name, a link included, on every file system) and holding its owner's text."""
    marker = path.with_name(path.name + SOFT_SUFFIX)
    start, warned = time.monotonic(), False
    while True:
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o644)
            break
        except FileExistsError:
            if not blocking:
                raise Busy(read_owner(marker), marker) from None
            if not warned and time.monotonic() - start > STALE_WARNING_S:
                warned = True
                log.warning(
                    "waiting for %s, held by %s (%s=1); if that process is gone, it was killed "
                    "holding the lock: delete the file",
                    marker,
                    read_owner(marker),
                    SOFT_ENV,
                )
            time.sleep(POLL_S)
    try:
        os.write(fd, owner_text().encode())
        mine = os.fstat(fd)
    finally:
        os.close(fd)
    return lambda: _remove_if_same(marker, mine)
