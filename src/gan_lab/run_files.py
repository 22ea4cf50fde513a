"""The CSV files of a run folder (metrics.csv, steps.csv, ssim.csv): written by the callbacks,
read by the sweep summary and the loss plot. Plain ``csv``: one row per epoch or step."""

import csv
from pathlib import Path

METRICS_CSV = "metrics.csv"  # one row per epoch: the epoch means and any val/* scores
STEPS_CSV = "steps.csv"  # one row per step: D and G loss, D(x), D(G(z))
SSIM_CSV = "ssim.csv"  # one row per SSIM measurement


def append_rows(path: Path, new_rows: list[dict]) -> None:
    """Append rows; if new columns appear (e.g. a metric logged later), rewrite with the union."""
    keys = list(dict.fromkeys(k for row in new_rows for k in row))
    rows, fields = [], keys
    if path.exists():
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            old = list(reader.fieldnames or [])
            if any(k not in old for k in keys):
                rows = list(reader)
            fields = old + [k for k in keys if k not in old]
    if rows or not path.exists():
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
    with path.open("a", newline="") as f:
        csv.DictWriter(f, fieldnames=fields).writerows(new_rows)


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))
