"""Image folders: flat, or one subfolder per class; one file decoded into arrays.

Crawled folders are never clean (003): every file that cannot be turned into an
image of the wanted size and mode is skipped with a reason, never crashes the run.
"""

import hashlib
import io
import logging
import os
from dataclasses import dataclass
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
    others: list[Path]  # files without an image extension: reported by the audit, never read


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _walk(root: Path) -> list[Path]:
    """Every visible file under root, in sorted order, in one pass over the tree."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(folder) / f for f in sorted(files) if not f.startswith(".")]
    return sorted(found)


def scan_folder(root: Path) -> FolderScan:
    """Class subfolders if the root holds only folders with images; otherwise one flat class."""
    files = _walk(root)
    images = [p for p in files if _is_image_name(p)]
    others = [p for p in files if not _is_image_name(p)]
    top_files = [p for p in images if p.parent == root]
    per_class: dict[str, list[Path]] = {}
    for p in images:
        per_class.setdefault(p.relative_to(root).parts[0], []).append(p)
    if per_class and not top_files:
        classes = sorted(per_class)
        files = [p for c in classes for p in per_class[c]]
        labels = [i for i, c in enumerate(classes) for _ in per_class[c]]
        return FolderScan(files, labels, classes, others)
    return FolderScan(images, [0] * len(images), [root.name], others)


def _to_mode(im: Image.Image, mode: str) -> Image.Image:
    """Any PIL mode → RGB or L: transparency onto white, 16/32-bit rescaled, CMYK converted."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") else max(float(arr.max()), 1.0)
        im = Image.fromarray((arr / top * 255).clip(0, 255).astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    return im.convert(mode)


@dataclass
class FileRecord:
    """What the decode pass learns about a file; ``error`` is set when it cannot be used."""

    path: Path
    error: str = ""
    mode: str = ""
    size: tuple[int, int] = (0, 0)  # (width, height) before resizing
    sha1: str = ""


def load_image(path: Path, size: int, mode: str) -> np.ndarray:
    """Decode, orient, convert and centre-crop-resize one file to (size, size[, 3]) uint8."""
    rec, array, _ = inspect_file(path, size, mode)
    if array is None:
        raise OSError(f"{path}: {rec.error}")
    return array


def inspect_file(path: Path, size: int, mode: str):
    """Decode one file once: (its record, the training array, the 32×32 grey thumbnail that the
    near-duplicate check compares); both arrays are None when the file cannot be used."""
    rec = FileRecord(path)
    try:
        data = path.read_bytes()
        rec.sha1 = hashlib.sha1(data).hexdigest()
        if not data:
            raise ValueError("zero-byte file")
        with Image.open(io.BytesIO(data)) as im:
            im.load()  # decode now: truncated files fail here, not during training
            rec.mode, rec.size = im.mode, im.size
            im = ImageOps.exif_transpose(im)
            rgb = _to_mode(im, "RGB")
            thumb = ImageOps.fit(rgb.convert("L"), (THUMB, THUMB), Image.Resampling.BOX)
            im = ImageOps.fit(_to_mode(im, mode), (size, size), Image.Resampling.LANCZOS)
            return rec, np.asarray(im, dtype=np.uint8), np.asarray(thumb, dtype=np.uint8)
    except Exception as err:  # noqa: BLE001 — any decoder failure means "skip this file"
        rec.error = f"{type(err).__name__}: {err}"
    return rec, None, None
