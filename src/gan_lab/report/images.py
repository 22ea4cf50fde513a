"""The pictures a report makes from the folder's own: downsized grids, a grid cut into its rows,
a skipped file seen through the audit's decoder. PNG bytes each, to be embedded (links.drawn)."""

import io
from pathlib import Path

from PIL import Image

from gan_lab.data.folder import inspect_file


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def downsized(path: Path, pixels: int) -> bytes:
    """A grid no larger than ``pixels`` on either side: a page of many grids stays small."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        im.thumbnail((pixels, pixels))
        return png(im)


def grid_rows(path: Path, n_rows: int) -> list[bytes]:
    """The grid cut into its rows (make_grid: 2 px padding around every image)."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        height = (im.height - 2) / n_rows
        return [
            png(im.crop((0, round(i * height), im.width, round((i + 1) * height) + 2)))
            for i in range(n_rows)
        ]


def audit_thumbnail(path: Path, size: int = 64) -> bytes | None:
    """A skipped file, shown through the audit's own decoder: regular files only, within the
    pixel budget (a decompression bomb is never decoded here either; design §3.2). None when it
    cannot be decoded — an unreadable or oversized file is exactly what the audit reports."""
    _, array, _ = inspect_file(path, size, "RGB")
    return None if array is None else png(Image.fromarray(array))
