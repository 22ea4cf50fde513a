"""Hygiene of crawled folders (003: "twelve baskets of broken pieces"; design §3.1).

Works on the records of the single decode pass (data/decoded.py): nothing is decoded twice and
the data folder is never modified here. The rule is 003's: keep what is good, skip what is broken.
"""

import csv
import io
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan_lab.data.decoded import DecodedFolder
from gan_lab.data.dedup import same_pictures
from gan_lab.data.folder import FileRecord
from gan_lab.errors import UserError
from gan_lab.runs.safe_io import write_atomic

USUAL_MODES = {"RGB", "L"}
ACTIONS = ("skip", "keep")
MAX_SKIPPED_SHARE = 0.1  # the default of data.audit.max_skipped_share
# Files without an image extension (a README, a licence) and entries that are no files at all (a
# FIFO, a dangling link) are not part of the set: listed, but not counted in its skipped share.
NOT_IN_SET = ("not_an_image", "not_a_file")


@dataclass
class Problem:
    """One problem of one file. Skipped: unreadable, too_large (over the pixel budget),
    not_an_image, not_a_file (a FIFO, a device, a dangling link or a link loop: never opened),
    too_small, duplicate, and near_duplicate unless near_duplicates=keep. Kept and reported: unusual_mode, extreme_aspect,
    label_conflict."""

    path: Path
    kind: str
    detail: str
    skipped: bool = True


def audit_records(
    records: list[FileRecord],
    thumbs: np.ndarray,
    labels: list[int] | None = None,
    classes: list[str] | None = None,
    others: list[Path] = (),
    special: dict[Path, str] | None = None,
    min_size: int = 32,
    near_duplicates: str = "skip",
    near_duplicate_distance: float = 0.06,
    max_aspect: float = 3.0,
) -> list[Problem]:
    """Every problem of every file; a file may have several (e.g. CMYK *and* a duplicate).

    ``thumbs`` are the records' 32×32 grey thumbnails, ``labels`` their class indices; ``others``
    the entries never read, ``special`` why those that are not regular files were not. Near
    duplicates (the same picture re-encoded, rescaled, re-toned or shifted: data/dedup.py) are
    looked for within a class; the same picture in two classes is a label conflict, reported and
    never dropped. How much may be skipped is check_share's question.
    """
    if near_duplicates not in ACTIONS:
        raise UserError(
            f"data.audit.near_duplicates={near_duplicates!r}: use skip (train on one copy of each "
            "picture) or keep (train on every file)."
        )
    labels = list(labels) if labels is not None else [0] * len(records)
    classes = classes or ["-"]
    special = special or {}
    problems = [
        Problem(p, "not_a_file", special[p])
        if p in special
        else Problem(p, "not_an_image", "no image file extension")
        for p in others
    ]
    good: list[int] = []
    for i, r in enumerate(records):
        if r.error:
            problems.append(Problem(r.path, r.problem or "unreadable", r.error))
            continue
        w, h = r.size
        if r.mode not in USUAL_MODES:
            problems.append(Problem(r.path, "unusual_mode", f"mode {r.mode} (converted)", False))
        if max(w, h) / max(min(w, h), 1) > max_aspect:
            problems.append(Problem(r.path, "extreme_aspect", f"{w}×{h} (centre-cropped)", False))
        if min(w, h) < min_size:
            problems.append(Problem(r.path, "too_small", f"{w}×{h} < {min_size} px"))
            continue
        good.append(i)

    first_by_sha: dict[tuple[str, int], int] = {}  # per class: across classes is a conflict
    unique: list[int] = []
    for i in good:
        r = records[i]
        if (r.sha1, labels[i]) in first_by_sha:
            j = first_by_sha[r.sha1, labels[i]]
            problems.append(Problem(r.path, "duplicate", f"same bytes as {records[j].path}"))
        else:
            first_by_sha[r.sha1, labels[i]] = i
            unique.append(i)

    skip = near_duplicates == "skip"
    dropped: set[int] = set()
    for a, b, d in same_pictures(thumbs[unique], near_duplicate_distance):
        i, j = unique[a], unique[b]
        if labels[i] != labels[j]:
            detail = (
                f"the same picture as {records[i].path} (distance {d:.3f}) is in class "
                f"{classes[labels[i]]}, this one in {classes[labels[j]]}"
            )
            problems.append(Problem(records[j].path, "label_conflict", detail, False))
        elif i not in dropped and j not in dropped:
            dropped.add(j)
            detail = f"the same picture as {records[i].path} (distance {d:.3f})"
            problems.append(Problem(records[j].path, "near_duplicate", detail, skip))
    return problems


def audit_decoded(dec: DecodedFolder, **rules) -> list[Problem]:
    """audit_records over a decoded folder: its records, thumbnails, classes and other files."""
    scan = dec.scan
    return audit_records(
        dec.records, dec.thumbs, scan.labels, scan.classes, scan.others, scan.special, **rules
    )


def skipped_files(problems: list[Problem]) -> set[Path]:
    return {p.path for p in problems if p.skipped}


def summarize(problems: list[Problem], n_files: int) -> str:
    """'1797 files, 12 skipped (12 of 1797 image files, 0.7 %): 2 duplicate, 10 near duplicate;
    kept and reported: 3 unusual mode' — the share is check_share's: of the image files."""
    skipped = skipped_files(problems)
    outside = {p.path for p in problems if p.kind in NOT_IN_SET}
    images = n_files - len(outside)
    share = 100 * len(skipped - outside) / max(images, 1)
    skip_counts = Counter(p.kind for p in problems if p.skipped)
    noted = Counter(p.kind for p in problems if not p.skipped)
    text = (
        f"{n_files} files, {len(skipped)} skipped "
        f"({len(skipped - outside)} of {images} image files, {share:.1f} %)"
    )
    if skip_counts:
        text += ": " + ", ".join(
            f"{n} {k.replace('_', ' ')}" for k, n in sorted(skip_counts.items())
        )
    if noted:
        text += "; kept and reported: " + ", ".join(
            f"{n} {k.replace('_', ' ')}" for k, n in sorted(noted.items())
        )
    return text if problems else f"{n_files} files, no problems"


def check_share(
    problems: list[Problem], n_files: int, max_share: float, report: Path | None
) -> None:
    """Stop before training when the audit would drop more than max_share of the set: a rule that
    misfires (or a folder that is mostly broken) must never change the experiment silently."""
    others = {p.path for p in problems if p.kind in NOT_IN_SET}
    skipped = len(skipped_files(problems) - others)
    n_files -= len(others)
    if n_files and skipped / n_files > max_share:
        where = f"each file and why is in {report}" if report else "run gan-lab audit"
        raise UserError(
            f"the data audit would skip {skipped} of {n_files} image files "
            f"({100 * skipped / n_files:.0f} %), more than data.audit.max_skipped_share="
            f"{max_share}: {summarize(problems, n_files + len(others))}. Nothing was trained. Look at what was "
            f"flagged ({where}); if a rule is wrong for this set, change it (e.g. "
            "data.audit.near_duplicates=keep, data.audit.min_size=...); to train on the files "
            f"that pass anyway, add data.audit.max_skipped_share=1."
        )


def write_report(problems: list[Problem], path: Path) -> Path:
    """The audit's table, written as every file of a run folder is (gan_lab.runs.safe_io: atomically,
    never through a link, a full disk as one paragraph)."""
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["path", "problem", "detail", "action"])
    for p in problems:
        writer.writerow([p.path, p.kind, p.detail, "skipped" if p.skipped else "kept"])
    return write_atomic(path, table.getvalue().encode())


def quarantine(problems: list[Problem], root: Path, dest: Path) -> list[Path]:
    """Move every skipped file to dest, keeping its path relative to root. Only on request."""
    moved = []
    for path in sorted(skipped_files(problems)):
        target = dest / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), target)
        moved.append(target)
    return moved
