"""A sweep's report.html (design §6): the comparison table 001 and 002 built by hand.

First the settings (every override but seed), their seeds pooled: intervals, ranked, each
compared with the best (gan_lab.runs.seeds, as summary.md and settings.csv have them). Then the
runs: the rows are the sweep summary's own (gan_lab.runs.sweep.summarize_run: the overrides that differ,
status, final losses, balance, D's outputs, the last of every score, minutes), sortable by any
column; then every run's final grid and every run's curves on shared axes. Each section below
turns the rows into plain data for its template (templates/sweep/).
"""

from pathlib import Path

from hydra.experimental.callback import Callback

from gan_lab.errors import UserError
from gan_lab.report import images, links, page, plots
from gan_lab.report.run.best import evaluations
from gan_lab.report.sweep_summary import settings as pooled_settings
from gan_lab.runs import keys, layout
from gan_lab.runs.files import check_no_links, read_rows
from gan_lab.runs.seeds import BEST, BEST_ONE_SEED, NOT_DISTINGUISHABLE, ONE_SEED, WORSE
from gan_lab.runs.sweep import (
    FINAL,
    columns,
    differing_keys,
    find_runs,
    parse_overrides,
    summarize_run,
)

GRID_PX = 256  # each run's final grid, downsized to this and embedded
OWN_FILES = ("summary.md", "summary.csv", "summary.png", "multirun.yaml")  # gan_lab.summarize's


def is_sweep(folder: Path) -> bool:
    return bool(find_runs(folder))


def label(row: dict, varied: list[str]) -> str:
    return f"#{row['run']} " + ", ".join(f"{k}={row.get(k, '')}" for k in varied)


def overview(sweep_dir: Path, rows: list[dict], overrides: list[dict], varied: list[str]) -> dict:
    common = {k: v for k, v in overrides[0].items() if k not in varied} if overrides else {}
    status: dict[str, int] = {}
    for row in rows:
        kind = row["status"].split(":")[0].split(" (")[0]
        status[kind] = status.get(kind, 0) + 1
    return {
        "folder": str(sweep_dir),
        "runs": len(rows),
        "status": ", ".join(f"{n} {s}" for s, n in status.items()),
        "differs": [(k, sorted({str(o.get(k, "")) for o in overrides})) for k in varied],
        "common": list(common.items()),
    }


def settings(rows: list[dict], varied: list[str], sweep_dir: Path) -> dict:
    """The settings table: the best row marked best, and a row marked where its verdict is no
    clear one (one seed, or not distinguishable from the best)."""
    pooled = pooled_settings(rows, varied, sweep_dir, None)
    marks = {BEST: "best", WORSE: "", NOT_DISTINGUISHABLE: "warn", ONE_SEED: "warn"}
    marks[BEST_ONE_SEED] = "warn"  # not compared either
    return {
        "header": pooled.header(),
        "rows": pooled.text_rows(),
        "marks": [marks.get(s.verdict, "warn" if s.n < 2 else "") for s in pooled.settings],
        "choice": pooled.choice,
        "caveat": pooled.caveat,
    }


def comparison(sweep_dir: Path, rows: list[dict], cols: list[str], thumbs: dict) -> dict:
    """The summary's rows: the run (linked to its report), its final grid, then the columns."""
    shown = [c for c in cols if c not in ("run", "samples", "folder")]
    body = []
    for row in rows:
        run = sweep_dir / row["folder"]
        report = run / layout.REPORT
        first = links.link(sweep_dir, report if report.exists() else run, str(row["run"]))
        thumb = ""
        if thumbs.get(row["folder"]):  # None: not a picture (images.open_image)
            to = links.href(sweep_dir, sweep_dir / row["samples"])
            thumb = links.drawn(thumbs[row["folder"]], row["folder"], "small pixel", to)
        body.append([first, thumb, *(row.get(c, "") for c in shown)])
    return {
        "header": ["run", "final grid", *shown],
        "rows": body,
        "marks": ["" if r["status"] == "ok" else "warn" for r in rows],
    }


def grids(sweep_dir: Path, rows: list[dict], varied: list[str], thumbs: dict) -> dict:
    cells = []
    for row in rows:
        picture = None
        if thumbs.get(row["folder"]):  # None: not a picture (images.open_image)
            to = links.href(sweep_dir, sweep_dir / row["samples"])
            picture = links.drawn(thumbs[row["folder"]], label(row, varied), "grid pixel", to)
        cells.append(
            {
                "picture": picture,
                "label": label(row, varied),
                "status": None if row["status"] == "ok" else row["status"],
                "file": Path(row["samples"]).name if row["samples"] else "",
            }
        )
    return {"cells": cells}


def curves(sweep_dir: Path, rows: list[dict], varied: list[str]) -> dict:
    runs = [
        (label(r, varied), read_rows(sweep_dir / r["folder"] / layout.METRICS_CSV)) for r in rows
    ]
    runs = [(name, history) for name, history in runs if history]
    if not runs:
        return {"plot": None}
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
    return {
        "plot": links.drawn(png, "every run's curves", "plot"),
        "caption": f"epoch means of every run ({layout.METRICS_CSV} of each): losses, D(x) = "
        f"{keys.short(keys.D_REAL)}, D(G(z)) = {keys.short(keys.D_FAKE)}, and every score the "
        "runs computed",
    }


def files(sweep_dir: Path, rows: list[dict]) -> dict:
    runs = []
    for row in rows:
        run = sweep_dir / row["folder"]
        report = run / layout.REPORT
        own = links.link(sweep_dir, report, "report") if report.exists() else None
        runs.append((links.link(sweep_dir, run, row["folder"] + "/"), own))
    own = [links.link(sweep_dir, sweep_dir / n) for n in OWN_FILES if (sweep_dir / n).exists()]
    return {"own": own, "runs": runs}


def write_sweep_report(sweep_dir: str | Path) -> Path:
    """Write <multirun folder>/report.html; returns its path."""
    sweep_dir = Path(sweep_dir).expanduser().resolve()
    if not sweep_dir.is_dir() or not is_sweep(sweep_dir):
        raise UserError(
            f"no runs in {sweep_dir}: a multirun folder holds one sub-folder per run, each with "
            f"{layout.SWEEP_RUN_MARK} (python train.py -m ... writes them)."
        )
    check_no_links(sweep_dir)  # the folder is data: the page is written into it
    runs = find_runs(sweep_dir)
    overrides = [parse_overrides(r) for r in runs]
    varied = differing_keys(overrides)
    rows = [summarize_run(r, sweep_dir, varied, o) for r, o in zip(runs, overrides, strict=True)]
    thumbs = {  # each final grid downsized once: the table and the grids section both show it
        r["folder"]: images.downsized(sweep_dir / r["samples"], GRID_PX)
        for r in rows
        if r["samples"]
    }
    S = page.Section
    sections = [
        S(
            "sweep",
            "The sweep",
            "sweep/overview.html.j2",
            overview(sweep_dir, rows, overrides, varied),
        ),
        S(
            "settings",
            "Settings, seeds pooled",
            "sweep/settings.html.j2",
            settings(rows, varied, sweep_dir),
        ),
        S(
            "table",
            "Every run",
            "sweep/table.html.j2",
            comparison(sweep_dir, rows, columns(rows, varied), thumbs),
        ),
        S("grids", "Final grids", "sweep/grids.html.j2", grids(sweep_dir, rows, varied, thumbs)),
        S("curves", "Curves of every run", "sweep/curves.html.j2", curves(sweep_dir, rows, varied)),
        S("files", "Files", "sweep/files.html.j2", files(sweep_dir, rows)),
    ]
    return page.write(
        sweep_dir, f"Sweep {sweep_dir.name}", f"{len(runs)} runs · {sweep_dir}", sections
    )


class SweepReport(Callback):
    """Hydra callback (conf/hydra/default.yaml): report.html in the multirun folder at its end."""

    def on_multirun_end(self, config, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if sweep_dir.is_dir() and is_sweep(sweep_dir):
            print(f"report of the sweep: {write_sweep_report(sweep_dir)}")
