"""Hygiene of crawled folders (003: "twelve baskets of broken pieces").

Works on the records of the single decode pass (folder.inspect_folder): nothing
is decoded twice and the data folder is never modified here.
"""

import csv
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan_lab.data.folder import FileRecord

# Problems that make a file unusable or harmful (skipped) and those that are only worth knowing.
SKIPPED = ("unreadable", "not_an_image", "too_small", "duplicate", "near_duplicate")
REPORTED = ("unusual_mode", "extreme_aspect")
USUAL_MODES = {"RGB", "L"}


@dataclass
class Problem:
    path: Path
    kind: str
    detail: str

    @property
    def skipped(self) -> bool:
        return self.kind in SKIPPED


def _hamming_to_later(hashes: np.ndarray, i: int) -> np.ndarray:
    x = hashes[i] ^ hashes[i + 1 :]
    return np.unpackbits(x.view(np.uint8)).reshape(-1, 64).sum(axis=1)


def audit_records(
    records: list[FileRecord],
    others: list[Path] = (),
    min_size: int = 32,
    near_duplicate_bits: int = 4,
    max_aspect: float = 3.0,
) -> list[Problem]:
    """Every problem of every file; a file may have several (e.g. CMYK *and* a duplicate)."""
    problems = [Problem(p, "not_an_image", "no image file extension") for p in others]
    good: list[FileRecord] = []
    for r in records:
        if r.array is None:
            problems.append(Problem(r.path, "unreadable", r.error))
            continue
        w, h = r.size
        if r.mode not in USUAL_MODES:
            problems.append(Problem(r.path, "unusual_mode", f"mode {r.mode} (converted)"))
        if max(w, h) / max(min(w, h), 1) > max_aspect:
            problems.append(Problem(r.path, "extreme_aspect", f"{w}×{h} (centre-cropped)"))
        if min(w, h) < min_size:
            problems.append(Problem(r.path, "too_small", f"{w}×{h} < {min_size} px"))
            continue
        good.append(r)

    first_by_sha: dict[str, Path] = {}
    unique: list[FileRecord] = []
    for r in good:
        if r.sha1 in first_by_sha:
            problems.append(Problem(r.path, "duplicate", f"same bytes as {first_by_sha[r.sha1]}"))
        else:
            first_by_sha[r.sha1] = r.path
            unique.append(r)

    hashes = np.array([r.dhash for r in unique], dtype=np.uint64)
    dropped: set[int] = set()
    for i in range(len(unique) - 1):
        if i in dropped:
            continue
        for j in np.nonzero(_hamming_to_later(hashes, i) <= near_duplicate_bits)[0] + i + 1:
            if int(j) not in dropped:
                dropped.add(int(j))
                problems.append(
                    Problem(unique[j].path, "near_duplicate", f"looks like {unique[i].path}")
                )
    return problems


def summarize(problems: list[Problem], n_files: int) -> str:
    counts = Counter(p.kind for p in problems)
    skipped = len({p.path for p in problems if p.skipped})
    parts = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(counts.items()))
    return f"{n_files} files, {skipped} skipped" + (f" ({parts})" if parts else ", no problems")


def write_report(problems: list[Problem], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "problem", "detail", "action"])
        for p in problems:
            writer.writerow([p.path, p.kind, p.detail, "skipped" if p.skipped else "kept"])
    return path


def quarantine(problems: list[Problem], root: Path, dest: Path) -> list[Path]:
    """Move every skipped file to dest, keeping its path relative to root. Only on request."""
    moved = []
    for path in sorted({p.path for p in problems if p.skipped}):
        target = dest / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), target)
        moved.append(target)
    return moved
