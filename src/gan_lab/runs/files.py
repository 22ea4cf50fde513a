"""Reading and writing a run folder's tables: the CSV files of its history (metrics.csv, steps.csv,
ssim.csv, warnings.csv; their names are gan_lab.runs.layout's), written by the callbacks, read by
the sweep summary, the loss plot and the report, and run.json. Plain ``csv``: one row per epoch,
step or event.

Crash safety (design §9): rows are appended in one fsynced write per epoch, and the callbacks
write them *before* the epoch's checkpoint; a resume drops every row after the checkpoint's
epoch (:func:`truncate_after`), so each epoch and step appears exactly once whatever instant a
run was killed at. A file whose columns change is rewritten atomically.
"""

import csv
import io
import json
from pathlib import Path

from gan_lab.runs.layout import RUN_INFO
from gan_lab.safe_io import append_atomic, write_atomic


def _text(fields: list[str], rows: list[dict], header: bool) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def read_rows(path: Path) -> list[dict]:
    """The complete rows; a partial last line (a kill during an append) is ignored."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    return list(csv.DictReader(io.StringIO(text)))


def _fields(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(next(csv.reader(f), []))


def append_rows(path: Path, new_rows: list[dict]) -> None:
    """Append rows; if new columns appear (e.g. a metric logged later), rewrite with the union."""
    if not new_rows:
        return
    keys = list(dict.fromkeys(k for row in new_rows for k in row))
    old = _fields(path) if path.exists() and path.stat().st_size else []
    if old and all(k in old for k in keys) and path.read_bytes().endswith(b"\n"):
        append_atomic(path, _text(old, new_rows, header=False))
        return
    fields = old + [k for k in keys if k not in old]
    write_atomic(path, _text(fields, read_rows(path) + new_rows, header=True).encode())


def truncate_after(path: Path, epoch: int) -> int:
    """Drop the rows of epochs after ``epoch`` (a resume continues from there); returns how many."""
    rows = read_rows(path)
    keep = [r for r in rows if int(float(r.get("epoch") or 0)) <= epoch]
    if len(keep) != len(rows) or (path.exists() and not path.read_bytes().endswith(b"\n")):
        write_atomic(path, _text(_fields(path), keep, header=True).encode())
    return len(rows) - len(keep)


def read_info(run_dir: Path) -> dict:
    """run.json, or {} when the run has none (older runs, a run killed before it started)."""
    try:
        return json.loads((Path(run_dir) / RUN_INFO).read_text())
    except (OSError, ValueError):
        return {}


def write_info(run_dir: Path, info: dict) -> None:
    write_atomic(
        Path(run_dir) / RUN_INFO, (json.dumps(info, indent=1, default=str) + "\n").encode()
    )
