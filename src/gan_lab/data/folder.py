"""Image folders: flat, or one subfolder per class; decoded once into a uint8 tensor.

Crawled folders are never clean (003): every file that cannot be turned into an
image of the wanted size and mode is skipped with a reason, never crashes the run.
"""

import hashlib
import io
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


@dataclass
class FolderScan:
    files: list[Path]
    labels: list[int]
    classes: list[str]
    others: list[Path]  # files without an image extension: reported by the audit, never read


def _is_image_name(path: Path) -> bool:
    return (
        path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")
    )


def scan_folder(root: Path) -> FolderScan:
    """Class subfolders if the root holds only folders with images; otherwise one flat class."""
    subdirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    top_files = sorted(p for p in root.iterdir() if _is_image_name(p))
    per_class = {d.name: sorted(p for p in d.rglob("*") if _is_image_name(p)) for d in subdirs}
    per_class = {k: v for k, v in per_class.items() if v}
    others = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".") and not _is_image_name(p)
    )
    if per_class and not top_files:
        classes = list(per_class)
        files = [p for c in classes for p in per_class[c]]
        labels = [i for i, c in enumerate(classes) for _ in per_class[c]]
        return FolderScan(files, labels, classes, others)
    files = sorted(p for p in root.rglob("*") if _is_image_name(p))
    return FolderScan(files, [0] * len(files), [root.name], others)


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
    """What one decode pass learns about a file; ``array`` is None when it could not be used."""

    path: Path
    array: np.ndarray | None = None
    error: str = ""
    mode: str = ""
    size: tuple[int, int] = (0, 0)
    sha1: str = ""
    dhash: int = 0


def difference_hash(im: Image.Image, bits: int = 8) -> int:
    """64-bit dHash: brightness gradients of a 9×8 thumbnail; near-identical images differ in few bits."""
    small = np.asarray(
        im.convert("L").resize((bits + 1, bits), Image.Resampling.BILINEAR), dtype=np.int16
    )
    diff = (small[:, 1:] > small[:, :-1]).flatten()
    return int("".join("1" if d else "0" for d in diff), 2)


def load_image(path: Path, size: int, mode: str) -> np.ndarray:
    """Decode, orient, convert and centre-crop-resize one file to (size, size[, 3]) uint8."""
    rec = inspect_file(path, size, mode)
    if rec.array is None:
        raise OSError(f"{path}: {rec.error}")
    return rec.array


def inspect_file(path: Path, size: int, mode: str) -> FileRecord:
    """Decode one file once: its hashes, original mode and size, and the training array."""
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
            rec.dhash = difference_hash(_to_mode(im, "RGB"))
            im = ImageOps.fit(_to_mode(im, mode), (size, size), Image.Resampling.LANCZOS)
            rec.array = np.asarray(im, dtype=np.uint8)
    except Exception as err:  # noqa: BLE001 — any decoder failure means "skip this file"
        rec.error = f"{type(err).__name__}: {err}"
    return rec


def inspect_folder(
    root: Path, image_size: int, channels: int
) -> tuple[FolderScan, list[FileRecord]]:
    """Decode every image under root (threads: Pillow releases the GIL while decoding)."""
    scan = scan_folder(root)
    mode = "L" if channels == 1 else "RGB"
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        records = list(pool.map(lambda p: inspect_file(p, image_size, mode), scan.files))
    return scan, records


def stack_records(records: list[FileRecord], labels: list[int], image_size: int, channels: int):
    """(uint8 images (N, C, H, W), int64 labels) of the usable records."""
    keep = [(r.array, y) for r, y in zip(records, labels, strict=True) if r.array is not None]
    if not keep:
        return torch.empty(0, channels, image_size, image_size, dtype=torch.uint8), torch.empty(
            0, dtype=torch.long
        )
    stacked = torch.from_numpy(np.stack([a for a, _ in keep]))
    images = stacked[:, None] if channels == 1 else stacked.permute(0, 3, 1, 2)
    return images.contiguous(), torch.tensor([y for _, y in keep], dtype=torch.long)
