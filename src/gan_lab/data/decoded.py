"""A folder decoded once, not once per run (design §3.1): the resized uint8 set on disk.

The cache of a folder lives in ``<cache_dir>/<folder>-<size>px-<channels>ch-<key>/`` (the key
hashes the folder's path, the preprocessing settings and CACHE_VERSION): ``index.json`` names each
file with its size and modification time, ``images-<gen>.npy`` holds the decoded rows and
``thumbs-<gen>.npy`` the 32×32 grey thumbnails the audit compares. A later run re-decodes only the
files that were added or changed (size or mtime), so a second run or a sweep over the same folder
starts in seconds. The data folder itself is never written to.

A set whose decoded size exceeds the memory budget is read as a memory-mapped file: the OS pages
rows in as batches ask for them, and the training sees the same rows in the same order.
"""

import hashlib
import json
import logging
import os
import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gan_lab.data.dedup import THUMB
from gan_lab.data.folder import FileRecord, FolderScan, inspect_file, scan_folder
from gan_lab.errors import UserError
from gan_lab.safe_io import write_atomic

log = logging.getLogger(__name__)

CACHE_VERSION = (
    1  # bump when decoding changes (crop, resampling, thumbnails): old caches are unused
)
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

    def rows(self, keep: list[int]) -> np.ndarray:
        """The kept rows: in memory a copy; on disk a second memory map (kept-<key>.npy)."""
        if len(keep) == len(self.records) and keep == list(range(len(keep))):
            return self.images
        if not self.on_disk:
            return self.images[keep]
        folder = self.cache or Path(self._tmp.name)
        key = hashlib.sha1(np.asarray(keep, dtype=np.int64).tobytes()).hexdigest()[:12]
        path = folder / f"kept-{Path(self.images.filename).stem}-{key}.npy"
        if not path.exists():
            tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
            out = np.lib.format.open_memmap(
                tmp, "w+", np.uint8, (len(keep), *self.images.shape[1:])
            )
            for start in range(0, len(keep), CHUNK):
                out[start : start + CHUNK] = self.images[keep[start : start + CHUNK]]
            out.flush()
            del out
            os.replace(tmp, path)
        return np.load(path, mmap_mode="c")


def cache_folder(cache_dir: Path, root: Path, image_size: int, channels: int) -> Path:
    settings = json.dumps([str(root), image_size, channels, "centre-crop lanczos", CACHE_VERSION])
    key = hashlib.sha1(settings.encode()).hexdigest()[:12]
    return Path(cache_dir) / f"{root.name}-{image_size}px-{channels}ch-{key}"


def _stat(path: Path) -> list[int]:
    st = path.stat()
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
    n, mode = len(scan.files), ("L" if channels == 1 else "RGB")
    shape = (image_size, image_size, channels)
    on_disk = n * int(np.prod(shape)) > memory_budget
    folder = cache_folder(cache_dir, root, image_size, channels) if cache_dir else None
    index = _read_index(folder) if folder else None
    stats = [_stat(p) for p in scan.files] if folder else []  # only a cache compares them
    names = [str(p.relative_to(root)) for p in scan.files]
    old = index["files"] if index else {}
    reuse = {
        i: old[name]["row"]
        for i, name in enumerate(names)
        if name in old and old[name]["stat"] == stats[i]
    }

    if folder and len(reuse) == n == len(old) and all(reuse[i] == i for i in range(n)):
        records = [_record(scan.files[i], old[names[i]]) for i in range(n)]
        images = np.load(folder / index["images"], mmap_mode="c" if on_disk else None)
        thumbs = np.load(folder / index["thumbs"])
        return DecodedFolder(
            scan, records, images, thumbs, 0, time.perf_counter() - t0, on_disk, folder
        )

    tmp_dir = None
    if folder:
        folder.mkdir(parents=True, exist_ok=True)
        gen = f"{time.time_ns():x}-{os.getpid()}"
        target = folder / f"images-{gen}.npy"
    elif on_disk:  # no cache wanted, but the set must still live in a file
        base = cache_dir_for(True, None)
        base.mkdir(parents=True, exist_ok=True)
        tmp_dir = tempfile.TemporaryDirectory(prefix="uncached-", dir=base)
        target = Path(tmp_dir.name) / "images.npy"
    try:
        if folder or on_disk:
            images = np.lib.format.open_memmap(target, "w+", np.uint8, (n, *shape))
        else:
            images = np.zeros((n, *shape), dtype=np.uint8)
    except OSError as err:
        raise UserError(
            f"cannot write the decoded set of {root} to {target.parent} ({err.strerror}); set "
            "data.cache_dir to a folder with free space, or data.cache=false."
        ) from err
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
    bar = tqdm(total=len(todo), desc=f"decoding {root.name}", unit="img", delay=PROGRESS_AFTER)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # Pillow releases the GIL
        for i, (rec, array, thumb) in zip(
            todo,
            pool.map(lambda i: inspect_file(scan.files[i], image_size, mode), todo),
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
        np.save(thumbs_path, thumbs)
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
        write_atomic(folder / "index.json", index_text.encode())  # the new generation is live
        for stale in folder.glob("*.npy"):
            if stale not in (target, thumbs_path):
                stale.unlink(missing_ok=True)  # an open memory map keeps its file until closed
        del images
        images = np.load(target, mmap_mode="c" if on_disk else None)
    elif on_disk:
        images.flush()
        del images
        images = np.load(target, mmap_mode="c")
    return DecodedFolder(
        scan, records, images, thumbs, len(todo), time.perf_counter() - t0, on_disk, folder, tmp_dir
    )


def _fields(rec: FileRecord) -> dict:
    return {"error": rec.error, "mode": rec.mode, "size": list(rec.size), "sha1": rec.sha1}


def _record(path: Path, entry: dict) -> FileRecord:
    return FileRecord(path, entry["error"], entry["mode"], tuple(entry["size"]), entry["sha1"])
