"""Files a kill, a full disk or a read-only folder must never damage (design §9).

Every file a run depends on is written beside its final name, flushed and fsynced, then renamed
over it: a rename within one folder is atomic, so a reader sees the old file or the new one,
never half of one. A write that fails stops the run with one paragraph naming the file.
"""

import contextlib
import io
import os
import shutil
import time
from pathlib import Path

import torch
from lightning.fabric.plugins import TorchCheckpointIO

from gan_lab.errors import UserError
from gan_lab.runs import layout

# Seconds to wait between writing a file and renaming it: only tests/test_kill.py sets it, to make
# its random kills land inside writes.
WRITE_DELAY = float(os.environ.get("GAN_LAB_WRITE_DELAY", "0") or 0)
TMP_GLOB = ".*.tmp-*"  # what a write killed before its rename leaves behind


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some file systems do not open folders; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _replace_atomic(path: Path, fill) -> Path:
    """``fill(tmp)`` writes the new file beside ``path``; it is fsynced and renamed over ``path``,
    so a kill at any instant leaves the old or the new file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")  # matches TMP_GLOB
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fill(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        if WRITE_DELAY:  # fault injection for the kill test: widen the window before the rename
            time.sleep(WRITE_DELAY)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as err:
        with contextlib.suppress(OSError):  # the folder itself may be what failed
            tmp.unlink(missing_ok=True)
        raise UserError(
            f"cannot write {path}: {err.strerror or err}. The run stopped here so that no work "
            "goes unsaved; the files written before are intact. Free disk space or make the "
            f"folder writable, then resume with ckpt_path={path.parent / layout.LAST} "
            "(or the newest checkpoint there)."
        ) from None
    return path


def write_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that a kill at any instant leaves the old or the new file."""
    return _replace_atomic(Path(path), lambda tmp: tmp.write_bytes(data))


def copy_atomic(source: str | Path, path: str | Path) -> Path:
    """``path`` becomes a copy of ``source`` (a file just written: the checkpoint of an epoch that
    is also last.ckpt, serialised once), as safely as write_atomic. A copy, never a hard link: a
    user who later copies another file over one of them must not change the other."""
    return _replace_atomic(Path(path), lambda tmp: shutil.copyfile(source, tmp))


def append_atomic(path: str | Path, text: str) -> None:
    """Append whole lines in one write, flushed and fsynced (a kill leaves at most a partial
    last line, which readers drop: see gan_lab.runs.files.read_rows)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        raise UserError(
            f"cannot write {path}: {err.strerror or err}. The run stopped; free disk space or "
            "make the folder writable, then resume from the newest checkpoint."
        ) from None


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, but crash-safe: Lightning's own serialises to a temporary
    file in $TMPDIR and moves it over the target, which is a copy (not a rename) when $TMPDIR is
    another file system, and never fsyncs."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        write_atomic(path, buffer.getvalue())

    def load_checkpoint(self, path, map_location=None, weights_only=None) -> dict:
        # A checkpoint may come from anyone: tensors and plain values only, never pickled code
        # (gan_lab.checkpoint.read_checkpoint has read the same file this way before a resume).
        return super().load_checkpoint(path, map_location=map_location, weights_only=True)
