"""The folders of a sweep: which runs it holds, what differs between them, each run's final row.

The sweep summary (``python -m gan_lab.summarize``) and the sweep report (``gan_lab.report``) both
read a multirun folder through these functions, so the two always agree on the runs, their status
and their final values.
"""

import sys
from pathlib import Path
from typing import Any

import yaml

from gan_lab import keys
from gan_lab.runs import layout
from gan_lab.runs.files import read_rows
from gan_lab.runs.layout import FAILED, METRICS_CSV

# The summary's columns of the final epoch's means (metrics.csv stores them under the bare key).
FINAL = {keys.short(k): k for k in keys.STAT_KEYS}


def _yaml(path: Path) -> Any:
    with path.open() as f:
        return yaml.safe_load(f)


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def find_runs(sweep_dir: Path) -> list[Path]:
    """Run folders (those with .hydra/overrides.yaml), in job order (the folder's number prefix)."""
    runs = layout.sweep_runs(sweep_dir)

    def job_number(run: Path) -> tuple[int, str]:
        head = run.name.split("_", 1)[0]
        return (int(head) if head.isdigit() else sys.maxsize, run.name)

    return sorted(runs, key=job_number)


def parse_overrides(run: Path) -> dict[str, str]:
    """``noise=uniform`` → {"noise": "uniform"}; ``+x=1`` / ``~x`` keep their prefix in the key."""
    items = _yaml(layout.hydra_overrides(run)) or []
    pairs = (str(item).split("=", 1) for item in items)
    return {p[0]: (p[1] if len(p) > 1 else "") for p in pairs}


def differing_keys(overrides: list[dict[str, str]]) -> list[str]:
    """Keys whose value is not the same in every run (all keys when there is only one run)."""
    varied = list(dict.fromkeys(k for o in overrides for k in o))
    if len(overrides) < 2:
        return varied
    return [k for k in varied if len({o.get(k) for o in overrides}) > 1]


def last_grid(run: Path) -> Path | None:
    grids = layout.grids(run)
    return grids[-1][1] if grids else None


def run_status(run: Path, rows: list[dict]) -> str:
    if (run / FAILED).exists():
        return "failed: " + (run / FAILED).read_text().strip().splitlines()[0][:200]
    if not rows:
        return "no metrics"
    hydra = layout.hydra_config(run)  # absent when train() was called without Hydra
    config = (_yaml(hydra) if hydra.is_file() else None) or {}
    planned = (config.get("trainer") or {}).get("max_epochs")
    done = int(float(rows[-1].get("epoch") or 0))
    if isinstance(planned, int) and planned > 0 and done < planned:
        return f"incomplete ({done}/{planned} epochs)"
    return "ok"


def summarize_run(run: Path, sweep_dir: Path, varied: list[str], overrides: dict) -> dict:
    rows = read_rows(run / METRICS_CSV)
    last = rows[-1] if rows else {}
    row: dict[str, Any] = {"run": run.name.split("_", 1)[0], "folder": run.name}
    row.update({k: overrides.get(k, "") for k in varied})
    row["status"] = run_status(run, rows)
    row["epochs"] = last.get("epoch", "")
    for name, key in FINAL.items():
        value = _float(last.get(key))
        row[name] = "" if value is None else round(value, 4)
    d, g = _float(row[keys.short(keys.D_LOSS)]), _float(row[keys.short(keys.G_LOSS)])
    row["balance"] = "" if d is None or g is None else round(g - d, 4)
    # Evaluation metrics may be computed only every N epochs: take each one's last value.
    for key in sorted({k for r in rows for k in r if k.startswith("val/")}):
        values = [v for v in (_float(r.get(key)) for r in rows) if v is not None]
        row[key] = round(values[-1], 4) if values else ""
    seconds = [v for v in (_float(r.get("epoch_seconds")) for r in rows) if v is not None]
    row["wall_min"] = round(sum(seconds) / 60, 2) if seconds else ""
    grid = last_grid(run)
    row["samples"] = grid.relative_to(sweep_dir).as_posix() if grid else ""
    return row


def columns(rows: list[dict], varied: list[str]) -> list[str]:
    d_loss, g_loss, d_real, d_fake = FINAL
    fixed = ["run", *varied, "status", "epochs", d_loss, g_loss, "balance", d_real, d_fake]
    vals = sorted({k for r in rows for k in r if k.startswith("val/")})
    return [*fixed, *vals, "wall_min", "samples", "folder"]
