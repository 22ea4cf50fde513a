"""Image folders: flat, or one subfolder per class; one file decoded into arrays.

Crawled folders are never clean (003): every file that cannot be turned into an image of the wanted
size and mode is skipped with a reason, never crashes the run. A folder from someone else is
hostile (design §3.2): only regular files are opened, and none is decoded past the pixel budget.
"""

import errno
import hashlib
import logging
import os
import stat
import threading
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from gan_lab.data.dedup import THUMB

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


@dataclass
class FolderScan:
    files: list[Path]
    labels: list[int]
    classes: list[str]
    others: list[Path]  # files without an image extension, and `special`: listed, never read
    # Entries that are not regular files (FIFOs, devices, sockets, dangling links, link loops),
    # whatever their name, and why: listed by the audit, never opened.
    special: dict[Path, str] = field(default_factory=dict)


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _walk(root: Path) -> list[Path]:
    """Every visible file under root, in sorted order, in one pass over the tree."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(folder) / f for f in sorted(files) if not f.startswith(".")]
    return sorted(found)


def not_a_regular_file(path: Path) -> str | None:
    """Why ``path`` must not be opened, or None for a regular file (after following links).

    Decided from stat alone, before any open: opening a FIFO waits for a writer forever, reading
    /dev/zero never ends, and opening some devices has effects of its own (a tape rewinds)."""
    target = os.readlink(path) if os.path.islink(path) else None
    to = f" to {target}" if target is not None else ""
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        if err.errno == errno.ELOOP:
            return f"a symbolic link loop ({path.name}{to}): nothing to read"
        if err.errno == errno.ENOENT and target is not None:
            return (
                f"a dangling symbolic link ({path.name}{to}, which does not exist): nothing to read"
            )
        return f"cannot be looked at ({err.strerror})"
    if stat.S_ISREG(mode):
        return None
    kinds = [
        (stat.S_ISFIFO, "a FIFO (named pipe)", "reading it would wait forever"),
        (stat.S_ISCHR, "a character device", "reading it may never end"),
        (stat.S_ISBLK, "a block device", "not an image file"),
        (stat.S_ISSOCK, "a socket", "not an image file"),
        (stat.S_ISDIR, "a folder", "links to folders are not followed"),
    ]
    what, why = next(((w, y) for test, w, y in kinds if test(mode)), ("not a file", "unknown kind"))
    link = f", a symbolic link{to}" if target is not None else ""
    return f"{what}{link}: never opened, {why}"


def scan_folder(root: Path) -> FolderScan:
    """Class subfolders if the root holds only folders with images; otherwise one flat class."""
    files = _walk(root)
    special = {p: why for p in files if (why := not_a_regular_file(p))}
    images = [p for p in files if _is_image_name(p) and p not in special]
    others = [p for p in files if not _is_image_name(p) or p in special]
    top_files = [p for p in images if p.parent == root]
    per_class: dict[str, list[Path]] = {}
    for p in images:
        per_class.setdefault(p.relative_to(root).parts[0], []).append(p)
    if per_class and not top_files:
        classes = sorted(per_class)
        files = [p for c in classes for p in per_class[c]]
        labels = [i for i, c in enumerate(classes) for _ in per_class[c]]
        return FolderScan(files, labels, classes, others, special)
    return FolderScan(images, [0] * len(images), [root.name], others, special)


# Pillow warns, naming no file, when it opens a header over MAX_IMAGE_PIXELS; inspect_file refuses
# every such file itself and the audit names it, so the warning would only repeat it, unnamed.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

# Images are reduced by whole factors (a box filter, Image.reduce) as soon as they are decoded, to
# no less than REDUCING_GAP times the size they are resized to: the conversions, the thumbnail and
# the Lanczos resize then work on a small image. 3 is the gap at which Pillow calls the result
# indistinguishable from a resize of the full image (Image.resize's reducing_gap).
REDUCING_GAP = 3
_LUT_16_TO_8 = (np.arange(65536) * 255 // 65535).astype(np.uint8)  # 16-bit → 8-bit, no float copy


def pixel_budget() -> int:
    """The most pixels one file may decode to: Pillow's own bomb limit, PIL.Image.MAX_IMAGE_PIXELS
    (89.5 Mpx, an 8-byte-per-pixel decode of 0.7 GB; set it to change the budget)."""
    return int(Image.MAX_IMAGE_PIXELS or 89_478_485)


class OverBudget(Exception):
    """A file whose header promises more pixels than the budget: never decoded."""


class DecodeGate:
    """At most ``pixels`` decoded pixels in flight across the decode threads: small files decode
    in parallel, files near the budget one at a time, so a folder of large images cannot multiply
    the per-file memory by the number of threads."""

    def __init__(self, pixels: int):
        self.total = self.free = pixels
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, pixels: int):
        pixels = min(pixels, self.total)  # a file over the whole gate waits until it is alone
        with self._cond:
            self._cond.wait_for(lambda: self.free >= pixels)
            self.free -= pixels
        try:
            yield
        finally:
            with self._cond:
                self.free += pixels
                self._cond.notify_all()


def _reduce(im: Image.Image, factor: int) -> Image.Image:
    """im scaled down by a whole factor, each pixel the mean of a factor × factor block."""
    if im.mode.startswith("I;16"):  # no reduce for 16-bit: to 8 bits first, as _to_mode would
        info = im.info
        im = Image.fromarray(_LUT_16_TO_8[np.asarray(im)], "L")
        im.info = info  # the EXIF orientation goes along
    try:
        return im.reduce(factor)
    except ValueError:  # palette and 1-bit images have none: RGBA keeps any transparency
        return im.convert("RGBA").reduce(factor)


def _to_mode(im: Image.Image, mode: str) -> Image.Image:
    """Any PIL mode → RGB or L: transparency onto white, 16/32-bit rescaled, CMYK converted."""
    if im.mode.startswith("I;16"):
        im = Image.fromarray(_LUT_16_TO_8[np.asarray(im)], "L")
    elif im.mode in ("I", "F"):
        arr = np.asarray(im, dtype=np.float32)
        top = max(float(arr.max()), 1.0)
        im = Image.fromarray((arr * (255 / top)).clip(0, 255).astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    return im.convert(mode)


@dataclass
class FileRecord:
    """What the decode pass learns about a file; ``error`` is set when it cannot be used, and
    ``problem`` is then the audit's kind for it (unreadable, or too_large: over the pixel budget)."""

    path: Path
    error: str = ""
    mode: str = ""
    size: tuple[int, int] = (0, 0)  # (width, height) before resizing
    sha1: str = ""
    problem: str = ""


def load_image(path: Path, size: int, mode: str) -> np.ndarray:
    """Decode, orient, convert and centre-crop-resize one file to (size, size[, 3]) uint8."""
    rec, array, _ = inspect_file(path, size, mode)
    if array is None:
        raise OSError(f"{path}: {rec.error}")
    return array


def _open_regular(path: Path):
    """The file, opened for reading only if it is a regular file. O_NONBLOCK: should a FIFO have
    replaced the file since the folder was scanned, the open returns at once instead of waiting
    for a writer, and fstat below refuses it."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    f = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        f.close()
        raise OSError(f"{not_a_regular_file(path) or 'not a regular file'}")
    return f


def inspect_file(path: Path, size: int, mode: str, gate: DecodeGate | None = None):
    """Decode one file once: (its record, the training array, the 32×32 grey thumbnail that the
    near-duplicate check compares); both arrays are None when the file cannot be used.

    Memory stays within the pixel budget: the header is read first (Image.open is lazy), a JPEG
    decodes at the smallest DCT scale still large enough (draft), anything over the budget is
    refused before a pixel is decoded, and the decoded image is reduced before it is converted."""
    rec = FileRecord(path)
    need = max(size, THUMB)
    try:
        with _open_regular(path) as f:
            rec.sha1 = hashlib.file_digest(f, "sha1").hexdigest()
            if not f.tell():
                raise ValueError("zero-byte file")
            f.seek(0)
            with Image.open(f) as im:
                rec.mode, rec.size = im.mode, im.size
                im.draft(None, (REDUCING_GAP * need, REDUCING_GAP * need))  # JPEG only
                pixels = im.size[0] * im.size[1]
                if pixels > pixel_budget():
                    raise OverBudget(
                        f"{rec.size[0]}×{rec.size[1]} = {pixels / 1e6:.0f} Mpx, over the pixel "
                        f"budget of {pixel_budget() / 1e6:.0f} Mpx (PIL.Image.MAX_IMAGE_PIXELS): "
                        "never decoded"
                    )
                with gate.hold(pixels) if gate else nullcontext():
                    im.load()  # decode now: truncated files fail here, not during training
                    # The draft's own scale tells reduce how far it still has to go.
                    factor = min(im.size) // (REDUCING_GAP * need)
                    if factor >= 2:
                        im = _reduce(im, factor)
                    im = ImageOps.exif_transpose(im)
                    rgb = _to_mode(im, "RGB")
                    thumb = ImageOps.fit(rgb.convert("L"), (THUMB, THUMB), Image.Resampling.BOX)
                    im = ImageOps.fit(_to_mode(im, mode), (size, size), Image.Resampling.LANCZOS)
                    return rec, np.asarray(im, dtype=np.uint8), np.asarray(thumb, dtype=np.uint8)
    except (OverBudget, Image.DecompressionBombError) as err:
        rec.error, rec.problem = str(err), "too_large"
    except Exception as err:  # noqa: BLE001 — any decoder failure means "skip this file"
        rec.error, rec.problem = f"{type(err).__name__}: {err}", "unreadable"
    return rec, None, None
