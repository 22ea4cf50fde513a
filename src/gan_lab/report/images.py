"""The pictures a report makes from the folder's own: downsized grids, a grid cut into its rows,
a skipped file seen through the audit's decoder. PNG bytes each, to be embedded (links.drawn).

A folder may come from someone else (design §9): a picture is decoded only from a regular file
(never through a link, never a FIFO or a device; gan_lab.runs.files.read_bytes) that decodes as
an image within MAX_PIXELS — anything else is left out of the page with a warning."""

import io
import logging
from pathlib import Path

from PIL import Image

from gan_lab.data.folder import inspect_file, pixel_budget
from gan_lab.runs.files import read_bytes

log = logging.getLogger(__name__)

# The most pixels a picture on a page may decode to: a run's grids are ~500 px a side.
MAX_PIXELS = min(pixel_budget(), 4096 * 4096)
MAX_BYTES = 32 * 2**20  # a picture file larger than this is not opened


def checked(data: bytes | None, name: str | Path = "") -> Image.Image | None:
    """``data`` as an image (decoded), or None with a warning: not an image, or over MAX_PIXELS
    (refused from the header, before a pixel is decoded)."""
    if data is None:
        return None
    try:
        im = Image.open(io.BytesIO(data))
        if im.size[0] * im.size[1] > MAX_PIXELS:
            log.warning("%s is left out of the page: %d×%d px, over %d", name, *im.size, MAX_PIXELS)
            return None
        im.load()
        return im
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        log.warning("%s is left out of the page: not an image (%s)", name, str(err)[:200])
        return None


def open_image(path: Path, limit: int = MAX_BYTES) -> Image.Image | None:
    """The picture at ``path``, decoded, or None (with a warning) for anything but a regular file
    of at most ``limit`` bytes that decodes as an image within MAX_PIXELS."""
    return checked(read_bytes(path, limit), path)


def png_text(path: Path, key: str) -> str | None:
    """The PNG text chunk ``key`` of the file at ``path`` (a grid's ψ), read from the header
    without decoding a pixel; None when absent or not a picture."""
    data = read_bytes(path, MAX_BYTES)
    try:
        value = None if data is None else Image.open(io.BytesIO(data)).info.get(key)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    return value if isinstance(value, str) else None


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def downsized(path: Path, pixels: int) -> bytes | None:
    """A grid no larger than ``pixels`` on either side: a page of many grids stays small. None
    when ``path`` is not a picture open_image decodes."""
    im = open_image(path)
    if im is None:
        return None
    im = im.convert("RGB")
    im.thumbnail((pixels, pixels))
    return png(im)


def grid_rows(path: Path, n_rows: int) -> list[bytes]:
    """The grid cut into its rows (make_grid: 2 px padding around every image); [] when ``path``
    is not a picture open_image decodes."""
    im = open_image(path)
    if im is None:
        return []
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
