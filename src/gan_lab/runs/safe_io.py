"""Files a kill, a full disk or a read-only folder must never damage (design §9).

Every file a run depends on is written beside its final name, flushed and fsynced, then renamed
over it: a rename within one folder is atomic, so a reader sees the old file or the new one,
never half of one. A write that fails stops the run with one paragraph naming the file.

A run folder may come from someone else (design §9: it is data, like a checkpoint), so nothing
here writes through a symbolic link: a ``metrics.csv`` or ``samples/`` that links to a file or
folder elsewhere would make a resume, a score or a report change that file. Every writer refuses
a link at the target and at each folder between the run folder (``root``) and it, with one
paragraph; the temporary file is created exclusively, never opened through a planted name.
"""

import contextlib
import errno
import io
import os
import shutil
import stat
import time
from collections.abc import Callable
from pathlib import Path

import torch

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


def link_message(link: Path) -> str:
    """The one paragraph for a symbolic link found in a run folder (here and in
    gan_lab.runs.files.check_no_links)."""
    try:
        to = f" (to {os.readlink(link)!r:.200})"
    except OSError:
        to = ""
    return (
        f"{link} is a symbolic link{to}: gan-lab neither writes nor reads a run folder's files "
        "through links, since a folder from someone else could point them at any file of yours "
        "(a run folder is data, like a checkpoint); nothing was written through it. Copy the "
        "folder with its links resolved (cp -rL <run> <copy>) and use the copy, or remove the link."
    )


def refuse_links(path: str | Path, root: str | Path | None = None) -> Path:
    """``path``, after checking (lstat, never following) that neither it nor any folder between
    ``root`` and it is a symbolic link; a UserError naming the first link otherwise. Without
    ``root`` (or with a ``path`` outside it), only ``path`` itself is checked: the folders above
    the run folder are the user's own (an outputs/ that links to a scratch disk is fine)."""
    path = Path(path)
    checked = [path]
    if root is not None and path.is_relative_to(root):
        parts = path.relative_to(root).parts
        checked = [Path(root).joinpath(*parts[: i + 1]) for i in range(len(parts))]
    for part in checked:
        if part.is_symlink():
            raise UserError(link_message(part))
    return path


def _create_exclusive(tmp: Path) -> None:
    """``tmp`` as a new, empty regular file of ours: a name left there (a killed write's, or a
    link planted under the name) is removed first — unlinking a link never touches its target."""
    tmp.unlink(missing_ok=True)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644))


def _replace_atomic(path: Path, fill, root: str | Path | None = None) -> Path:
    """``fill(tmp)`` writes the new file beside ``path``; it is fsynced and renamed over ``path``,
    so a kill at any instant leaves the old or the new file."""
    refuse_links(path, root)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")  # matches TMP_GLOB
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _create_exclusive(tmp)
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
        run = Path(root) if root is not None else path.parent
        if root is None and layout.in_checkpoints(path):
            run = path.parent.parent
        raise UserError(
            f"cannot write {path}: {err.strerror or err}. It stopped here so that nothing is "
            "left half-written; the files written before are intact. Free disk space or make "
            "the folder writable, then run the command again (a training run: resume with "
            f"ckpt_path={layout.last_checkpoint(run)}, or the newest checkpoint there)."
        ) from None
    return path


def write_atomic(path: str | Path, data: bytes, root: str | Path | None = None) -> Path:
    """Write ``data`` to ``path`` so that a kill at any instant leaves the old or the new file.
    ``root``: the run folder, whose folders down to ``path`` must not be links (refuse_links)."""
    return _replace_atomic(Path(path), lambda tmp: tmp.write_bytes(data), root)


def save_atomic(
    path: str | Path, save: Callable[[io.BytesIO], object], root: str | Path | None = None
) -> Path:
    """``save(buffer)`` writes the file into memory (``torch.save``, torchvision's ``save_image``
    or PIL's ``save`` with an explicit format), then it is written as write_atomic writes: the
    grids, the GIF and the fixed noise get the same crash safety, link refusal and one-paragraph
    full disk as a checkpoint (a writer given a path would open the final name itself)."""
    buffer = io.BytesIO()
    save(buffer)
    return write_atomic(path, buffer.getvalue(), root)


def write_png(
    path: str | Path,
    grid: torch.Tensor,
    root: str | Path | None = None,
    text: dict[str, str] | None = None,
) -> Path:
    """An image tensor in [0, 1] (a grid of make_grid) as a PNG, as save_atomic writes; ``text``
    goes into the file's tEXt chunks (how it was drawn, e.g. a grid's truncation ψ)."""
    if not text:
        from torchvision.utils import save_image

        return save_atomic(path, lambda buffer: save_image(grid, buffer, format="png"), root)
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    # The pixels exactly as torchvision's save_image makes them.
    array = grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to("cpu", torch.uint8).numpy()
    image = Image.fromarray(array.squeeze(-1) if array.shape[-1] == 1 else array)
    return save_atomic(path, lambda buffer: image.save(buffer, format="png", pnginfo=info), root)


def copy_atomic(source: str | Path, path: str | Path, root: str | Path | None = None) -> Path:
    """``path`` becomes a copy of ``source`` (a file just written: the checkpoint of an epoch that
    is also last.ckpt, serialised once), as safely as write_atomic. A copy, never a hard link: a
    user who later copies another file over one of them must not change the other."""
    return _replace_atomic(Path(path), lambda tmp: shutil.copyfile(source, tmp), root)


def append_atomic(path: str | Path, text: str, root: str | Path | None = None) -> None:
    """Append whole lines in one write, flushed and fsynced (a kill leaves at most a partial
    last line, which readers drop: see gan_lab.runs.files.read_rows). Only to a regular file
    (O_NOFOLLOW: never through a link; O_NONBLOCK: a FIFO planted under the name cannot block)."""
    path = refuse_links(path, root)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
    special = UserError(
        f"{path} is not a regular file (a FIFO, a device or a folder); the run stopped before "
        "writing to it. Remove it, then resume from the newest checkpoint."
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as err:
            if err.errno in (errno.ENXIO, errno.EISDIR):  # a FIFO without a reader; a folder
                raise special from None
            raise
        with open(fd, "a", encoding="utf-8", newline="") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise special
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        raise UserError(
            f"cannot write {path}: {err.strerror or err}. The run stopped; free disk space or "
            "make the folder writable, then resume from the newest checkpoint."
        ) from None


def _tensorboard_error(err: OSError, folder: str) -> UserError:
    return UserError(
        f"cannot write TensorBoard's events in {folder}: {err.strerror or err}. The run stopped; "
        "the files written before are intact. Free disk space or make the folder writable, then "
        "resume from the newest checkpoint (logger=none trains without TensorBoard)."
    )


def _tensorboard_paragraph(method: Callable, folder: str) -> Callable:
    def write(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except OSError as err:
            raise _tensorboard_error(err, folder) from None

    return write


def guard_tensorboard(loggers) -> None:
    """TensorBoard's event file on a full disk (or a folder gone read-only) as the one paragraph
    every other write gives. Lightning's TensorBoardLogger writes through torch's SummaryWriter,
    whose file writer works in a thread of its own and raises the thread's OSError at the next
    call — anywhere in Lightning's loop; each call of the file writer (add_event, flush, close)
    turns it into a UserError naming the folder, and so does each of the logger's own writes
    (hparams.yaml: log_hyperparams, save, finalize). Rank 0 only (the others have no writer)."""
    from lightning.pytorch.loggers import TensorBoardLogger

    for logger in loggers:
        if not isinstance(logger, TensorBoardLogger) or getattr(logger, "_gan_lab_guarded", False):
            continue
        folder = str(logger.log_dir)
        for name in ("log_hyperparams", "save", "finalize"):
            setattr(logger, name, _tensorboard_paragraph(getattr(logger, name), folder))
        logger._gan_lab_guarded = True
        try:  # the first access opens the event file: a full disk fails here already
            get = getattr(logger.experiment, "_get_file_writer", None)
            writer = get() if callable(get) else None
        except OSError as err:
            raise _tensorboard_error(err, folder) from None
        if writer is None:
            continue
        for name in ("add_event", "flush", "close"):
            setattr(writer, name, _tensorboard_paragraph(getattr(writer, name), folder))
