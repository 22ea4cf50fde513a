"""A folder decoded once, not once per run (design §3.1): the resized uint8 set on disk.

The cache of a folder lives in ``<cache_dir>/<folder>-<size>px-<channels>ch-<key>/`` (the key
hashes the folder's path, the preprocessing settings and CACHE_VERSION): ``index.json`` names each
file with its size and modification time, ``images-<gen>.npy`` holds the decoded rows and
``thumbs-<gen>.npy`` the 32×32 grey thumbnails the audit compares. A later run re-decodes only the
files that were added or changed (size or mtime), so a second run or a sweep over the same folder
starts in seconds. The data folder itself is never written to.

A set whose decoded size exceeds the memory budget is read as a memory-mapped file: the OS pages
rows in as batches ask for them, and the training sees the same rows in the same order.

Runs share the cache (design §3.2): a writer holds the lock on ``.lock`` from reading the index to
deleting the generations it replaced, a reader while it opens the files (gan_lab.runs.lock: one
kind of lock, since Windows and filelock have no shared one; a reader holds it for moments), so
two runs decoding one folder at once take turns (the second finds the first's work) instead of
deleting each other's files. Every file is reserved on disk (posix_fallocate) before it is
memory-mapped: a full disk is then one message before any decoding, not a SIGBUS in the middle.
"""

import errno
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gan_lab.data.dedup import THUMB
from gan_lab.data.folder import (
    DecodeGate,
    FileRecord,
    FolderScan,
    inspect_file,
    pixel_budget,
    scan_folder,
)
from gan_lab.errors import UserError
from gan_lab.runs import lock
from gan_lab.runs.safe_io import write_atomic

log = logging.getLogger(__name__)

# Bump when decoding changes (crop, resampling, thumbnails): old caches are unused. 2: large
# images are reduced before the resize, 16-bit ones converted by a table; records carry `problem`.
CACHE_VERSION = 2
LOCK = ".lock"
CHUNK = 1024  # rows copied at once between files
PROGRESS_AFTER = 3.0  # seconds: a shorter decode shows no progress bar


def parse_size(value: str | int | float | None, key: str = "data.memory_budget") -> float:
    """'4GB', '512MB', 1e9 or null (no limit) → bytes."""
    if value is None:
        return float("inf")
    if isinstance(value, int | float):
        return float(value)
    match = re.fullmatch(r"\s*([0-9.]+(?:E[0-9]+)?)\s*([KMGT]?)B?\s*", str(value).upper())
    if not match:
        raise UserError(f"{key}={value!r} is not a size: write e.g. 4GB, 512MB or 1e9 (bytes).")
    return float(match[1]) * 1024 ** " KMGT".index(match[2] or " ")


def cache_dir_for(enabled: bool, cache_dir: str | Path | None) -> Path | None:
    """Where data.cache / data.cache_dir put decoded folders: None when the cache is off,
    otherwise cache_dir or $XDG_CACHE_HOME/gan-lab (~/.cache/gan-lab)."""
    if not enabled:
        return None
    if cache_dir:
        return Path(cache_dir).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gan-lab"


@dataclass
class DecodedFolder:
    scan: FolderScan
    records: list[FileRecord]  # one per scan.files
    images: np.ndarray  # (N, H, W, C) uint8, a memory map when over the budget; zeros if unusable
    thumbs: np.ndarray  # (N, 32, 32) uint8
    decoded: int  # files decoded by this call (the rest came from the cache)
    seconds: float
    on_disk: bool
    cache: Path | None
    _tmp: tempfile.TemporaryDirectory | None = field(default=None, repr=False)
    root: Path | None = None  # the data folder, for messages

    def rows(self, keep: list[int]) -> np.ndarray:
        """The kept rows: in memory a copy; on disk a second memory map (kept-<key>.npy)."""
        if len(keep) == len(self.records) and keep == list(range(len(keep))):
            return self.images
        if not self.on_disk:
            return self.images[keep]
        folder = self.cache or Path(self._tmp.name)
        key = hashlib.sha1(np.asarray(keep, dtype=np.int64).tobytes()).hexdigest()[:12]
        path = folder / f"kept-{Path(self.images.filename).stem}-{key}.npy"
        # Shared: a writer replacing this folder's generation waits until the file is open.
        with _locked(folder, exclusive=False) if self.cache else nullcontext():
            if not path.exists():
                tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
                shape = (len(keep), *self.images.shape[1:])
                out = _allocate(tmp, shape, self.root, folder)
                for start in range(0, len(keep), CHUNK):
                    out[start : start + CHUNK] = self.images[keep[start : start + CHUNK]]
                out.flush()
                del out
                os.replace(tmp, path)
            return np.load(path, mmap_mode="c")


def cache_folder(cache_dir: Path, root: Path, image_size: int, channels: int) -> Path:
    settings = json.dumps([str(root), image_size, channels, "centre-crop lanczos", CACHE_VERSION])
    key = hashlib.sha1(settings.encode()).hexdigest()[:12]
    # The folder's name cut to 100 bytes: a name may be 255 bytes, and so may this one (the key
    # tells apart two folders whose names start alike).
    name = root.name.encode()[:100].decode(errors="ignore")
    return Path(cache_dir) / f"{name}-{image_size}px-{channels}ch-{key}"


def _cannot_write(root: Path, where: Path, err: OSError, need: int = 0) -> UserError:
    """One paragraph for a cache that cannot be written: a full disk says how much is needed."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        size = f" ({need / 2**20:.0f} MB)" if need else ""
        return UserError(
            f"not enough free disk space in {where} for the decoded set of {root}{size}: nothing "
            "was decoded and nothing trained. Free space there, point data.cache_dir at a disk "
            "with room, or pass data.cache=false to decode into memory on every run (a set over "
            "data.memory_budget still needs a file: raise the budget if memory allows)."
        )
    return UserError(
        f"cannot write the decoded set of {root} to {where} ({err.strerror or err}); set "
        "data.cache_dir to a writable folder with free space, or data.cache=false."
    )


@contextmanager
def _locked(folder: Path, exclusive: bool):
    """The cache folder's lock, waited for: a writer (``exclusive``) and a reader take the same
    one. It belongs to its open file, so threads of one process exclude each other too; the end
    of a killed process releases it. A reader of a cache it cannot write (a read-only copy) goes
    on without it: nobody can write there either."""
    try:
        release = lock.acquire(
            folder / LOCK,
            blocking=True,
            advice="point data.cache_dir at a local disk, pass data.cache=false",
        )
    except OSError:
        if exclusive:
            raise
        release = None
    try:
        yield
    finally:
        if release is not None:
            release()


def _allocate(path: Path, shape: tuple, root: Path, where: Path) -> np.memmap:
    """A writable memory-mapped .npy of uint8 whose every byte is reserved on disk first: a page
    written into a sparse file when the disk is full kills the process with SIGBUS."""
    try:
        images = np.lib.format.open_memmap(path, "w+", np.uint8, shape)  # a sparse file
        if hasattr(os, "posix_fallocate"):  # not on macOS or Windows: the file stays sparse there
            fd = os.open(path, os.O_RDWR)
            try:
                os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
            finally:
                os.close(fd)
        return images
    except OSError as err:
        path.unlink(missing_ok=True)
        raise _cannot_write(root, where, err, int(np.prod(shape))) from None


def _stat(path: Path) -> list[int]:
    try:
        st = path.stat()
    except OSError:  # gone or changed kind since the scan: decoding it says why
        return [-1, -1]
    return [st.st_size, st.st_mtime_ns]


def _read_index(folder: Path) -> dict | None:
    try:
        index = json.loads((folder / "index.json").read_text())
        if index.get("version") != CACHE_VERSION:
            return None
        np.load(folder / index["images"], mmap_mode="r")  # both files present and readable
        np.load(folder / index["thumbs"], mmap_mode="r")
        return index
    except (OSError, ValueError, KeyError):
        return None


def decode_folder(
    root: Path,
    image_size: int,
    channels: int,
    cache_dir: Path | None = None,
    memory_budget: float = float("inf"),
) -> DecodedFolder:
    """Every image under root as rows of uint8, from the cache where the files did not change."""
    t0 = time.perf_counter()
    scan = scan_folder(root)
    shape = (image_size, image_size, channels)
    on_disk = len(scan.files) * int(np.prod(shape)) > memory_budget
    if not cache_dir:
        return _decode(root, scan, shape, on_disk, None, None, t0)
    folder = cache_folder(cache_dir, root, image_size, channels)
    stats = [_stat(p) for p in scan.files]
    if (folder / "index.json").exists():
        with _locked(folder, exclusive=False):
            hit = _cached(root, scan, stats, folder, _read_index(folder), on_disk, t0)
        if hit is not None:
            return hit
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock.create_lock_file(folder / LOCK)  # never through a link planted there
    except OSError as err:
        raise _cannot_write(root, folder, err) from None
    with _locked(folder, exclusive=True):
        index = _read_index(folder)  # a run that held the lock before may have just written it
        hit = _cached(root, scan, stats, folder, index, on_disk, t0)
        if hit is not None:
            return hit
        return _decode(root, scan, shape, on_disk, folder, index, t0, stats)


def _cached(root, scan, stats, folder, index, on_disk, t0) -> DecodedFolder | None:
    """The cached set, if every file is in it unchanged and in the same order; else None."""
    names = [str(p.relative_to(root)) for p in scan.files]
    old = index["files"] if index else {}
    n = len(names)
    if not index or len(old) != n:
        return None
    if any(old.get(name, {}).get("stat") != stats[i] for i, name in enumerate(names)):
        return None
    if any(old[name]["row"] != i for i, name in enumerate(names)):
        return None
    records = [_record(scan.files[i], old[names[i]]) for i in range(n)]
    images = np.load(folder / index["images"], mmap_mode="c" if on_disk else None)
    thumbs = np.load(folder / index["thumbs"])
    return DecodedFolder(
        scan, records, images, thumbs, 0, time.perf_counter() - t0, on_disk, folder
    )


def _decode(root, scan, shape, on_disk, folder, index, t0, stats=()) -> DecodedFolder:
    """Decode what the cache does not hold; with a cache folder, the caller holds its lock."""
    n, mode = len(scan.files), ("L" if shape[2] == 1 else "RGB")
    names = [str(p.relative_to(root)) for p in scan.files]
    old = index["files"] if index else {}
    reuse = {
        i: old[name]["row"]
        for i, name in enumerate(names)
        if name in old and old[name]["stat"] == stats[i]
    }
    tmp_dir = None
    if folder:
        gen = f"{time.time_ns():x}-{os.getpid()}"
        target = folder / f"images-{gen}.npy"
        images = _allocate(target, (n, *shape), root, folder)
    elif on_disk:  # no cache wanted, but the set must still live in a file
        base = cache_dir_for(True, None)
        try:
            base.mkdir(parents=True, exist_ok=True)
            tmp_dir = tempfile.TemporaryDirectory(prefix="uncached-", dir=base)
        except OSError as err:
            raise _cannot_write(root, base, err) from None
        target = Path(tmp_dir.name) / "images.npy"
        images = _allocate(target, (n, *shape), root, target.parent)
    else:
        images = np.zeros((n, *shape), dtype=np.uint8)
    thumbs = np.zeros((n, THUMB, THUMB), dtype=np.uint8)
    records: list[FileRecord | None] = [None] * n
    if reuse:
        old_images = np.load(folder / index["images"], mmap_mode="r")
        old_thumbs = np.load(folder / index["thumbs"], mmap_mode="r")
        new_rows = sorted(reuse)
        for start in range(0, len(new_rows), CHUNK):
            rows = new_rows[start : start + CHUNK]
            src = [reuse[i] for i in rows]
            images[rows], thumbs[rows] = old_images[src], old_thumbs[src]
        for i in reuse:
            records[i] = _record(scan.files[i], old[names[i]])
    todo = [i for i in range(n) if i not in reuse]
    gate = DecodeGate(pixel_budget())  # bounds the decode memory of all threads together
    bar = tqdm(total=len(todo), desc=f"decoding {root.name}", unit="img", delay=PROGRESS_AFTER)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # Pillow releases the GIL
        for i, (rec, array, thumb) in zip(
            todo,
            pool.map(lambda i: inspect_file(scan.files[i], shape[0], mode, gate), todo),
            strict=True,
        ):
            records[i] = rec
            if array is not None:
                images[i] = array.reshape(shape)
                thumbs[i] = thumb
            bar.update()
    bar.close()

    if folder:
        images.flush()
        thumbs_path = folder / f"thumbs-{gen}.npy"
        files = {
            name: {"stat": stats[i], "row": i, **_fields(records[i])}
            for i, name in enumerate(names)
        }
        index_text = json.dumps(
            {
                "version": CACHE_VERSION,
                "root": str(root),
                "images": target.name,
                "thumbs": thumbs_path.name,
                "files": files,
            }
        )
        try:
            np.save(thumbs_path, thumbs)
            write_atomic(folder / "index.json", index_text.encode())  # the new generation is live
        except (OSError, UserError) as err:
            target.unlink(missing_ok=True)
            thumbs_path.unlink(missing_ok=True)
            if isinstance(err, UserError):  # write_atomic's words are about checkpoints: its cause
                err = err.__context__ if isinstance(err.__context__, OSError) else OSError(str(err))
            raise _cannot_write(root, folder, err) from None
        # The lock is held: no other run is writing here, and one reading has its files open
        # (an open memory map keeps its file until closed).
        for stale in [*folder.glob("*.npy"), *folder.glob(".*.tmp-*")]:
            if stale not in (target, thumbs_path):
                stale.unlink(missing_ok=True)
        del images
        images = np.load(target, mmap_mode="c" if on_disk else None)
    elif on_disk:
        images.flush()
        del images
        images = np.load(target, mmap_mode="c")
    seconds = time.perf_counter() - t0
    return DecodedFolder(
        scan, records, images, thumbs, len(todo), seconds, on_disk, folder, tmp_dir, root
    )


def _fields(rec: FileRecord) -> dict:
    return {
        "error": rec.error,
        "problem": rec.problem,
        "mode": rec.mode,
        "size": list(rec.size),
        "sha1": rec.sha1,
    }


def _record(path: Path, entry: dict) -> FileRecord:
    return FileRecord(
        path, entry["error"], entry["mode"], tuple(entry["size"]), entry["sha1"], entry["problem"]
    )
