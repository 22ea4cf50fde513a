"""A sweep's report.html (design §6): the comparison table 001 and 002 built by hand.

The rows are the sweep summary's own (gan_lab.sweep.summarize_run: the overrides that differ,
status, final losses, balance, D's outputs, the last of every score, minutes), sortable by any
column; then every run's final grid and every run's curves on shared axes.
"""

import io
from pathlib import Path

from hydra.experimental.callback import Callback
from PIL import Image

from gan_lab import keys
from gan_lab.errors import UserError
from gan_lab.report import page as P
from gan_lab.report import plots
from gan_lab.report.run import evaluations
from gan_lab.runs import layout
from gan_lab.runs.files import read_rows
from gan_lab.runs.layout import METRICS_CSV, REPORT
from gan_lab.safe_io import write_atomic
from gan_lab.sweep import FINAL, columns, differing_keys, find_runs, parse_overrides, summarize_run

SECTIONS = ("sweep", "table", "grids", "curves", "files")
GRID_PX = 256  # each run's final grid, downsized to this and embedded


def is_sweep(folder: Path) -> bool:
    return bool(find_runs(folder))


def label(row: dict, varied: list[str]) -> str:
    return f"#{row['run']} " + ", ".join(f"{k}={row.get(k, '')}" for k in varied)


def small_grid(path: Path) -> bytes:
    with Image.open(path) as im:
        im = im.convert("RGB")
        im.thumbnail((GRID_PX, GRID_PX))
        buffer = io.BytesIO()
        im.save(buffer, format="PNG")
    return buffer.getvalue()


def overview(sweep_dir: Path, rows: list[dict], overrides: list[dict], varied: list[str]) -> str:
    common = {k: v for k, v in overrides[0].items() if k not in varied} if overrides else {}
    values = {k: sorted({str(o.get(k, "")) for o in overrides}) for k in varied}
    status: dict[str, int] = {}
    for row in rows:
        kind = row["status"].split(":")[0].split(" (")[0]
        status[kind] = status.get(kind, 0) + 1
    facts = [
        ("folder", f"<code>{P.esc(sweep_dir)}</code>"),
        ("runs", str(len(rows))),
        ("status", P.esc(", ".join(f"{n} {s}" for s, n in status.items()))),
        (
            "what differs",
            "<br>".join(
                f"<code>{P.esc(k)}</code>: {P.esc(', '.join(v))}" for k, v in values.items()
            )
            or "nothing",
        ),
        (
            "the same in every run",
            "<br>".join(f"<code>{P.esc(k)}={P.esc(v)}</code>" for k, v in common.items()) or "—",
        ),
    ]
    return P.key_values(facts) + P.note(
        "balance = g_loss − d_loss of the final epoch (0: the players are even; large and positive: "
        "D is winning). Click a column's name to sort by it."
    )


def comparison(sweep_dir: Path, rows: list[dict], cols: list[str]) -> str:
    """The summary's rows: the run (linked to its report), its final grid, then the columns."""
    shown = [c for c in cols if c not in ("run", "samples", "folder")]
    body = []
    for row in rows:
        run = sweep_dir / row["folder"]
        report = run / REPORT
        grid = sweep_dir / row["samples"] if row["samples"] else None
        thumb = (
            f'<a href="{P.href(sweep_dir, grid)}">'
            f"{P.img_bytes(small_grid(grid), row['folder'], cls='small pixel')}</a>"
            if grid
            else ""
        )
        first = P.link(sweep_dir, report if report.exists() else run, str(row["run"]))
        body.append([first, thumb, *(P.esc(row.get(c, "")) for c in shown)])
    marks = ["" if r["status"] == "ok" else "warn" for r in rows]
    table = P.table(
        ["run", "final grid", *shown],
        body,
        sortable=True,
        raw=True,
        cls="comparison",
        row_classes=marks,
    )
    return f'<div class="scroll">{table}</div>'


def grids(sweep_dir: Path, rows: list[dict], varied: list[str]) -> str:
    cells = []
    for row in rows:
        caption = P.esc(label(row, varied)) + (
            "" if row["status"] == "ok" else f" [{P.esc(row['status'])}]"
        )
        if row["samples"]:
            grid = sweep_dir / row["samples"]
            pic = f'<a href="{P.href(sweep_dir, grid)}">{P.img_bytes(small_grid(grid), label(row, varied), cls="grid pixel")}</a>'
            cells.append(P.figure(pic, f"{caption}<br>{P.esc(Path(row['samples']).name)}"))
        else:
            cells.append(P.figure('<p class="missing">no sample grid</p>', caption))
    return f'<div class="strip">{"".join(cells)}</div>'


def curves(sweep_dir: Path, rows: list[dict], varied: list[str]) -> str:
    runs = [(label(r, varied), read_rows(sweep_dir / r["folder"] / METRICS_CSV)) for r in rows]
    runs = [(name, history) for name, history in runs if history]
    if not runs:
        return P.note("No run has finished an epoch yet.")
    names = [*FINAL.values()]
    names += sorted(
        {
            k
            for _, h in runs
            for r in h
            for k in r
            if k.startswith("val/") and not k.endswith("_std")
        }
    )
    png = plots.overlay(runs, names, [evaluations(history) for _, history in runs])
    return P.figure(
        P.img_bytes(png, "every run's curves", cls="plot"),
        f"epoch means of every run ({METRICS_CSV} of each): losses, D(x) = {keys.short(keys.D_REAL)}, "
        f"D(G(z)) = {keys.short(keys.D_FAKE)}, and every score the runs computed",
    )


def files(sweep_dir: Path, rows: list[dict]) -> str:
    own = [sweep_dir / n for n in ("summary.md", "summary.csv", "summary.png", "multirun.yaml")]
    items = [f"<li>{P.link(sweep_dir, p)}</li>" for p in own if p.exists()]
    for row in rows:
        run = sweep_dir / row["folder"]
        report = run / REPORT
        extra = f" — {P.link(sweep_dir, report, 'report')}" if report.exists() else ""
        items.append(f"<li>{P.link(sweep_dir, run, row['folder'] + '/')}{extra}</li>")
    return f"<ul>{''.join(items)}</ul>"


def render(sweep_dir: Path) -> str:
    runs = find_runs(sweep_dir)
    overrides = [parse_overrides(r) for r in runs]
    varied = differing_keys(overrides)
    rows = [summarize_run(r, sweep_dir, varied, o) for r, o in zip(runs, overrides, strict=True)]
    cols = columns(rows, varied)
    sections = [
        ("sweep", "The sweep", overview(sweep_dir, rows, overrides, varied)),
        ("table", "Comparison", comparison(sweep_dir, rows, cols)),
        ("grids", "Final grids", grids(sweep_dir, rows, varied)),
        ("curves", "Curves of every run", curves(sweep_dir, rows, varied)),
        ("files", "Files", files(sweep_dir, rows)),
    ]
    return P.page(f"Sweep {sweep_dir.name}", P.esc(f"{len(runs)} runs · {sweep_dir}"), sections)


def write_sweep_report(sweep_dir: str | Path) -> Path:
    """Write <multirun folder>/report.html; returns its path."""
    sweep_dir = Path(sweep_dir).expanduser().resolve()
    if not sweep_dir.is_dir() or not is_sweep(sweep_dir):
        raise UserError(
            f"no runs in {sweep_dir}: a multirun folder holds one sub-folder per run, each with "
            f"{layout.SWEEP_RUN_MARK} (python train.py -m ... writes them)."
        )
    return write_atomic(sweep_dir / REPORT, render(sweep_dir).encode("utf-8"))


class SweepReport(Callback):
    """Hydra callback (conf/hydra/default.yaml): report.html in the multirun folder at its end."""

    def on_multirun_end(self, config, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if sweep_dir.is_dir() and is_sweep(sweep_dir):
            print(f"report of the sweep: {write_sweep_report(sweep_dir)}")
