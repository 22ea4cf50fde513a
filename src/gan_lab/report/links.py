"""What a page points at: a file of the folder as a link or as a picture, as plain data that the
templates draw (templates/macros.html.j2, ``show``).

One file, no external resources, readable offline: pictures drawn for the page (plots,
thumbnails) are embedded as data URIs; files the folder already holds are embedded when small
and linked relatively otherwise, and every picture links to its file. Relative links keep working
when the folder is copied or moved as a whole.

A folder may come from someone else (design §9): a file is embedded only when it is a regular file
inside the folder, not a link, that decodes as an image within the pixel budget
(images.open_image); a ``preview/batch.png`` that links to a secret is never read into the page.
"""

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from PIL import Image

from gan_lab.report import images
from gan_lab.runs.files import read_bytes

# Files up to this size are embedded: the page then shows them even when copied alone.
INLINE_LIMIT = 400_000


@dataclass(frozen=True)
class Link:
    """``text`` linked to ``href``; just the text when the file is not there (``href`` None)."""

    text: str
    href: str | None = None


@dataclass(frozen=True)
class Picture:
    """An ``<img>`` (inside a link to its file when ``href`` is set). ``src`` None: the file was
    not written, and the page says so under ``name``."""

    src: str | None
    alt: str
    cls: str = ""
    href: str | None = None
    name: str = ""


def href(folder: Path, path: Path) -> str:
    """``path`` relative to the page's folder, URL-quoted (run folders hold '=' and ',')."""
    rel = Path(os.path.relpath(Path(path).resolve(), Path(folder).resolve())).as_posix()
    return quote(rel, safe="/=,@+-._~")


def link(folder: Path, path: Path, text: str | None = None) -> Link:
    path = Path(path)
    return Link(text or path.name, href(folder, path) if path.exists() else None)


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def drawn(png: bytes, alt: str, cls: str = "", to: str | None = None) -> Picture:
    """A picture drawn for the page (a plot, a thumbnail): embedded, linked to ``to`` if given."""
    return Picture(data_uri(png), alt, cls, to)


def inside(folder: Path, path: Path) -> bool:
    """Whether ``path`` is in ``folder`` itself, not a link, and not reached through one (its
    folders resolve to where they are spelled)."""
    path, folder = Path(path), Path(folder)
    if path.is_symlink() or not path.is_relative_to(folder):
        return False
    real = Path(os.path.realpath(path.parent))
    return real == Path(os.path.realpath(folder)) / path.parent.relative_to(folder)


def picture(folder: Path, path: Path, alt: str, cls: str = "", inline: bool = True) -> Picture:
    """A file of the folder as a picture that links to the file: embedded if small, else linked.
    Only a regular file inside the folder is shown; an embedded one must decode as an image."""
    path = Path(path)
    if not path.is_file() or not inside(folder, path):
        return Picture(None, alt, cls, name=path.name)
    to = href(folder, path)
    if inline and path.stat().st_size <= INLINE_LIMIT:
        data = read_bytes(path, INLINE_LIMIT)
        im = images.checked(data, path)
        if im is None:
            return Picture(None, alt, cls, name=path.name)
        mime = Image.MIME.get(im.format or "", "application/octet-stream")
        return Picture(data_uri(data, mime), alt, cls, to)
    return Picture(to, alt, cls, to)
