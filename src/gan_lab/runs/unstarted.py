"""A start that was refused leaves no run folder behind.

Hydra makes the run folder, records the config in ``.hydra/`` and opens ``train.log`` before
gan-lab has looked at the data or the checkpoint; when the start is then refused (a missing
folder, a changed data set, a bad value found late), that folder holds nothing of a run and
would only clutter ``outputs/`` and ``gan-lab summarize``. It is removed — and only when it holds
nothing else: a folder with a checkpoint, a grid or a CSV is a run and stays as it is.
"""

import contextlib
import os
import shutil
from pathlib import Path

from gan_lab.runs import layout

# What Hydra and the run lock write before training starts.
_BEFORE_TRAINING = (layout.HYDRA, ".lock")


def _only_setup(run_dir: Path) -> bool:
    for entry in os.scandir(run_dir):
        name = entry.name
        if (
            name in _BEFORE_TRAINING
            or name.endswith(".log")
            and entry.is_file(follow_symlinks=False)
        ):
            continue
        return False
    return True


def remove_unstarted(run_dir: str | Path) -> bool:
    """Remove ``run_dir`` when it holds only Hydra's record, its log and the lock; then its parent
    (``outputs/<date>/``) when that is left empty. Never follows a link. True when removed."""
    run_dir = Path(run_dir)
    with contextlib.suppress(OSError):
        if run_dir.is_symlink() or not run_dir.is_dir() or not _only_setup(run_dir):
            return False
        for entry in os.scandir(run_dir):
            path = Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
        run_dir.rmdir()
        with contextlib.suppress(OSError):
            run_dir.parent.rmdir()  # only when empty
        return True
    return False


def remove_session_record(run_dir: str | Path, subdir: str) -> bool:
    """Remove ``<run>/<subdir>`` when it is a later session's record (.hydra/sessions/<time>/,
    layout.hydra_subdir) of a start that was refused: the run folder stays as it was. Never the
    first session's .hydra/, never through a link. True when removed."""
    parts = Path(subdir).parts
    if len(parts) != 3 or parts[:2] != (layout.HYDRA, layout.HYDRA_SESSIONS):
        return False
    record = Path(run_dir) / subdir
    with contextlib.suppress(OSError):
        if record.is_symlink() or not record.is_dir():
            return False
        shutil.rmtree(record)
        with contextlib.suppress(OSError):
            record.parent.rmdir()  # sessions/, when it was the only one
        return True
    return False
