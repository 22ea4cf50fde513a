"""data=digits: scikit-learn's 1,797 handwritten digits as a folder of PNGs, a real set out of the box.

The set ships inside scikit-learn (``sklearn.datasets.load_digits``: 8×8 pixels, 17 grey levels
0–16, 10 classes; nothing is downloaded). It is written once as 64×64 grey PNGs in class folders
``0/`` … ``9/`` under the cache root, named by their index in scikit-learn's order
(``3/0012.png`` is ``load_digits().images[12]``), and from then on it is an ordinary folder set:
decoded once, audited, fingerprinted, its subfolders the classes (gan_lab.data.folder).

Why 64 px and not the native 8: the folder audit lists images under 32 px as thumbnails, and these
are the very files the lab's digits measurements were made on (benchmarks/digits_study.py writes
the same pixels; the near-duplicate threshold of design §3.1), so those numbers hold for
data=digits. The folder appears whole or not at all: it is written in a temporary folder beside it
and renamed into place, so a first use that is interrupted leaves nothing half written.
"""

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from gan_lab.data.decoded import cache_dir_for
from gan_lab.errors import UserError

log = logging.getLogger(__name__)

STORED_PX = 64  # the PNGs' size: bicubic from 8×8, as benchmarks/digits_study.py writes them
VERSION = 1  # bump when the written pixels change: a new folder, the old one unused
COUNT = 1797  # images in scikit-learn's set
CLASSES = [str(d) for d in range(10)]
INSTALL = 'pip install "gan-lab[digits]"'


def default_folder(cache_dir: str | Path | None = None) -> Path:
    """Where data=digits keeps its PNGs when data.root is null: <cache root>/sets/digits-64px-v1,
    the cache root of the decoded folders (data.cache_dir, else $XDG_CACHE_HOME/gan-lab or
    ~/.cache/gan-lab) whether or not data.cache is on, since the PNGs are the set itself. Decided
    on the machine that runs, never stored: a run resumed elsewhere writes its own copy."""
    return cache_dir_for(True, cache_dir) / "sets" / f"digits-{STORED_PX}px-v{VERSION}"


def load_sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """(images (1797, 8, 8) float 0–16, labels (1797,) int) from scikit-learn, or one paragraph
    saying how to install it."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise UserError(
            "data=digits needs scikit-learn, which is not installed: the 1,797 handwritten digits "
            f"ship inside it (nothing is downloaded). Install it with {INSTALL} (in a checkout: "
            'pip install -e ".[digits]"; make install has it too), then run the same command '
            "again; the digits are then written once as PNGs and scikit-learn is no longer read."
        ) from None
    digits = load_digits()
    return digits.images, digits.target


def to_pixels(image: np.ndarray) -> np.ndarray:
    """One 8×8 digit (0–16) → the stored 64×64 uint8 picture: the 17 levels spread over 0–255
    (truncated, as benchmarks/digits_study.py does: level 16 is 255), then bicubic upscaling."""
    grey = Image.fromarray((image * (255 / 16)).astype(np.uint8), "L")
    return np.asarray(grey.resize((STORED_PX, STORED_PX), Image.Resampling.BICUBIC))


def _check(root: Path) -> None:
    """A folder that is there must be the whole set: a folder that lost files (or another folder
    passed as data.root) would otherwise train, quietly, on something else."""
    try:
        found = {
            c: sum(1 for p in (root / c).iterdir() if p.suffix == ".png")
            if (root / c).is_dir()
            else 0
            for c in CLASSES
        }
    except OSError as err:  # a class folder that cannot be listed (permissions): one paragraph
        raise UserError(
            f"data=digits: the folder {root} cannot be read ({err.strerror or err}: "
            f"{err.filename}); nothing trained. Make it readable, delete it to have it written "
            "again, or pass data.cache_dir=<another folder>."
        ) from None
    if sum(found.values()) != COUNT:
        raise UserError(
            f"data=digits: the folder {root} holds {sum(found.values())} PNG files in the class "
            f"folders 0/ … 9/, not the {COUNT} digits gan-lab writes there; nothing trained. "
            "Delete the folder to have it written again on the next use, or pass another "
            "data.root (data=folder trains on any folder as it is)."
        )


def write_digits(root: str | Path | None, cache_dir: str | Path | None = None) -> Path:
    """The digits' folder at ``root`` (None: default_folder(cache_dir)), written now if it is not
    there; returns it.

    Written into a temporary sibling folder, then renamed: a rename is atomic, so the folder is
    whole or absent. Two first uses at once each write their own; the second rename fails on the
    folder the first put there, which is then used (the same pixels)."""
    root = Path(root or default_folder(cache_dir)).expanduser().resolve()
    if root.is_dir():
        _check(root)
        return root
    if root.exists():  # a file there: found now, not after writing 1,797 PNGs beside it
        raise UserError(
            f"data=digits: {root} is a file, not the digits' folder; nothing was written and "
            "nothing trained. Move the file away, or pass data.cache_dir=<another folder>."
        )
    images, labels = load_sklearn_digits()
    t0 = time.perf_counter()
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    except OSError as err:
        raise _cannot_write(root, err) from None
    try:
        for c in CLASSES:
            (tmp / c).mkdir()
        for i, (image, label) in enumerate(zip(images, labels, strict=True)):
            Image.fromarray(to_pixels(image), "L").save(tmp / str(label) / f"{i:04d}.png")
        try:
            os.rename(tmp, root)
        except OSError:
            if not root.is_dir():  # not a first use that finished before ours: a real failure
                raise
    except OSError as err:
        raise _cannot_write(root, err) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone after the rename; a loser's copy otherwise
    log.info(
        "data=digits: wrote scikit-learn's %d digits as %d×%d PNGs to %s (%.1f s, once)",
        len(images),
        STORED_PX,
        STORED_PX,
        root,
        time.perf_counter() - t0,
    )
    _check(root)
    return root


def _cannot_write(root: Path, err: OSError) -> UserError:
    return UserError(
        f"data=digits: cannot write the digits' PNGs to {root} ({err.strerror or err}); nothing "
        "was written there and nothing trained. Pass data.cache_dir=<a writable folder> (the "
        "digits go to <it>/sets/) or data.root=<a folder to write them to>."
    )
