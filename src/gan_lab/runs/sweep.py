"""The folders of a sweep: which runs it holds, what differs between them, each run's final row;
and the summary's tables (summary.csv, settings.csv, summary.md) written from those rows — the
settings' (seeds pooled, ranked, each compared with the best) from gan_lab.runs.seeds.

Reading only: the summary's picture is drawn by gan_lab.report.sweep_figure, and the summary as a
whole (``gan-lab summarize``, and SweepSummary, the Hydra callback that writes it when a
``train.py -m`` sweep ends) is gan_lab.report.sweep_summary's. The summary and the sweep report
(gan_lab.report.sweep) both read a multirun folder through these functions, so the two always
agree on the runs, their status and their final values.
"""

import csv
import sys
from pathlib import Path
from typing import Any

from gan_lab.errors import UserError
from gan_lab.runs import keys, layout
from gan_lab.runs.files import epoch_of_row, read_bytes, read_rows, read_yaml
from gan_lab.runs.layout import FAILED, METRICS_CSV
from gan_lab.runs.seeds import AUTO, RAW, Pooled

# The summary's columns of the final epoch's means (metrics.csv stores them under the bare key).
FINAL = {keys.short(k): k for k in keys.STAT_KEYS}


def _yaml(path: Path) -> Any:
    """A run's Hydra record as plain data (files.read_yaml: no aliases, capped, nothing evaluated;
    None with a warning for anything else): a sweep folder may come from someone else."""
    return read_yaml(path)


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


def parse_overrides(run: Path) -> dict[str, str] | None:
    """``noise=uniform`` → {"noise": "uniform"}; ``+x=1`` / ``~x`` keep their prefix in the key.
    None for a run that Hydra did not start (train() called by a script): it has no overrides."""
    path = layout.hydra_overrides(run)
    if not path.is_file():
        return None
    items = _yaml(path) or []
    pairs = (str(item).split("=", 1) for item in (items if isinstance(items, list) else []))
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
        said = (read_bytes(run / FAILED, 2**16) or b"").decode("utf-8", "replace").strip()
        return "failed: " + (said.splitlines() or ["(no reason recorded)"])[0][:200]
    if not rows:
        return "no metrics"
    hydra = layout.hydra_config(run)  # absent when train() was called without Hydra
    config = (_yaml(hydra) if hydra.is_file() else None) or {}
    trainer = config.get("trainer") if isinstance(config, dict) else None
    planned = trainer.get("max_epochs") if isinstance(trainer, dict) else None
    done = epoch_of_row(rows[-1]) or 0
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
    raw: dict[str, float] = {}  # unrounded: what the per-setting statistics pool (runs.seeds)
    for name, key in FINAL.items():
        value = _float(last.get(key))
        if value is not None:
            raw[name] = value
    d, g = raw.get(keys.short(keys.D_LOSS)), raw.get(keys.short(keys.G_LOSS))
    if d is not None and g is not None:
        raw["balance"] = g - d
    # Evaluation metrics may be computed only every N epochs: take each one's last value.
    for key in sorted({k for r in rows for k in r if k.startswith("val/")}):
        values = [v for v in (_float(r.get(key)) for r in rows) if v is not None]
        if values:
            raw[key] = values[-1]
    for key in [k for k in raw if k.startswith("val/fid") and raw.get(f"{k}_floor", 0) > 0]:
        # FID in units of the floor (real against held-out real images: 1 = as close as it gets)
        raw[f"{key}_over_floor"] = raw[key] / raw[f"{key}_floor"]
    for name in [*FINAL, "balance"]:
        row[name] = round(raw[name], 4) if name in raw else ""
    logged = {k for r in rows for k in r if k.startswith("val/")}
    for key in sorted(logged | {k for k in raw if k.startswith("val/")}):
        row[key] = round(raw[key], 4) if key in raw else ""
    seconds = [v for v in (_float(r.get("epoch_seconds")) for r in rows) if v is not None]
    row["wall_min"] = round(sum(seconds) / 60, 2) if seconds else ""
    grid = last_grid(run)
    row["samples"] = grid.relative_to(sweep_dir).as_posix() if grid else ""
    row[RAW] = {k: v for k, v in raw.items() if not k.endswith("_std")}
    return row


def columns(rows: list[dict], varied: list[str]) -> list[str]:
    d_loss, g_loss, d_real, d_fake = FINAL
    fixed = ["run", *varied, "status", "epochs", d_loss, g_loss, "balance", d_real, d_fake]
    vals = sorted({k for r in rows for k in r if k.startswith("val/")})
    return [*fixed, *vals, "wall_min", "samples", "folder"]


def markdown(rows: list[dict], cols: list[str]) -> str:
    shown = [c for c in cols if c != "folder"]

    def cell(row: dict, col: str) -> str:
        value = str(row.get(col, ""))
        if col == "run":  # angle brackets: folder names hold commas and '='
            return f"[{value}](<{row['folder']}/>)"
        if col == "samples" and value:
            return f"[{Path(value).stem}](<{value}>)"
        return value.replace("|", "\\|")

    lines = ["| " + " | ".join(shown) + " |", "|" + " --- |" * len(shown)]
    lines += ["| " + " | ".join(cell(r, c) for c in shown) + " |" for r in rows]
    note = "balance = g_loss − d_loss (0: even; > 0: D is winning). wall_min: training minutes."
    return "\n".join(lines) + f"\n\n{note}\n"


def summary_rows(sweep_dir: Path) -> tuple[list[dict], list[str]]:
    """Each run's row (:func:`summarize_run`) and the overrides that differ between the runs; one
    UserError for a folder that is not a multirun folder."""
    if not sweep_dir.is_dir():
        raise UserError(
            f"{sweep_dir} is not a folder: pass a multirun folder (outputs/multirun/…)."
        )
    runs = find_runs(sweep_dir)
    if not runs:
        raise UserError(
            f"no runs in {sweep_dir}: a multirun folder holds one sub-folder per run, each with "
            f"{layout.SWEEP_RUN_MARK} (python train.py -m ... writes them)."
        )
    overrides = [parse_overrides(r) for r in runs]
    varied = differing_keys(overrides)
    rows = [summarize_run(r, sweep_dir, varied, o) for r, o in zip(runs, overrides, strict=True)]
    return rows, varied


def stored_choice(sweep_dir: Path) -> tuple[str, str]:
    """(sweep.metric, metrics.best) of the sweep's first run with a stored config: what its
    settings table is ranked by when the command that writes it names no metric."""
    for run in find_runs(sweep_dir):
        hydra = layout.hydra_config(run)
        config = (_yaml(hydra) if hydra.is_file() else None) or {}
        if isinstance(config, dict):
            sweep, metrics = config.get("sweep"), config.get("metrics")
            wanted = sweep.get("metric") if isinstance(sweep, dict) else None
            best = metrics.get("best") if isinstance(metrics, dict) else None
            return str(wanted or AUTO), str(best or "val/fid")
    return AUTO, "val/fid"


def write_settings(pooled: Pooled, path: Path) -> None:
    rows = pooled.csv_rows()
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["rank"])
        writer.writeheader()
        writer.writerows(rows)


def settings_markdown(pooled: Pooled) -> str:
    head = pooled.header()
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += [
        "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in pooled.text_rows()
    ]
    return "\n".join(lines) + f"\n\n{pooled.choice}. {pooled.caveat}\n"


def write_tables(rows: list[dict], varied: list[str], sweep_dir: Path, pooled: Pooled) -> None:
    """summary.csv (every run, every column), settings.csv (every setting, its seeds pooled) and
    summary.md: the settings ranked, then every run linked (without the folder column)."""
    cols = columns(rows, varied)
    with (sweep_dir / "summary.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    write_settings(pooled, sweep_dir / "settings.csv")
    (sweep_dir / "summary.md").write_text(
        f"## Settings, seeds pooled\n\n{settings_markdown(pooled)}\n"
        f"## Every run\n\n{markdown(rows, cols)}"
    )
