"""How training went: the losses and D's outputs with the warnings ("training"), and the scores
with the checkpoint to use ("scores"). Templates: run/training.html.j2, run/scores.html.j2."""

from pathlib import Path

from gan_lab.metrics.best import is_flagged
from gan_lab.report import images, links, plots
from gan_lab.report.run import columns
from gan_lab.report.run.best import best_choice, evaluations
from gan_lab.report.run.folder import RunFolder, fmt, number
from gan_lab.runs import keys, layout
from gan_lab.runs.files import read_bytes


def current_plot(run: RunFolder) -> bytes | None:
    """losses.png when it is as new as every file it is drawn from (EpochHistory draws it with
    plots.training_curves at the end of training): the same picture, without drawing it twice."""
    path = run.dir / layout.LOSSES_PNG
    names = (layout.METRICS_CSV, layout.STEPS_CSV, layout.WARNINGS_CSV)
    sources = [run.dir / n for n in names if (run.dir / n).exists()]
    if not path.is_file() or any(s.stat().st_mtime_ns > path.stat().st_mtime_ns for s in sources):
        return None
    data = read_bytes(path, images.MAX_BYTES)  # a regular file, not a link, that is a picture
    return data if images.checked(data, path) is not None else None


def training(run: RunFolder) -> dict:
    if not run.epochs:
        return {"plot": None}
    png = current_plot(run) or plots.training_curves(run.epochs, run.steps, run.warnings)
    last = run.last
    d, g = number(last.get(keys.D_LOSS)), number(last.get(keys.G_LOSS))
    final = [
        ["epoch", fmt(last.get("epoch"))],
        ["d_loss", fmt(d)],
        ["g_loss", fmt(g)],
        ["balance (g_loss − d_loss)", fmt(None if d is None or g is None else round(g - d, 4))],
        ["D(x)", fmt(last.get(keys.D_REAL))],
        ["D(G(z))", fmt(last.get(keys.D_FAKE))],
    ]
    if number(last.get(keys.DIVERSITY)) is not None:
        final.append(["sample diversity", fmt(last.get(keys.DIVERSITY))])
    if number(last.get(keys.ADA_P)) is not None:
        final.append(["augmentation probability p (ADA)", fmt(last.get(keys.ADA_P))])
    return {
        "plot": links.drawn(png, "losses and D's outputs", "plot"),
        "steps_csv": links.link(run.dir, run.dir / layout.STEPS_CSV),
        "metrics_csv": links.link(run.dir, run.dir / layout.METRICS_CSV),
        "final": final,
        "warnings_csv": links.link(run.dir, run.dir / layout.WARNINGS_CSV),
        "warnings": [
            [fmt(w.get("epoch")), w.get("kind", ""), w.get("message", "")] for w in run.warnings
        ],
    }


def shown_scores(rows: list[dict], key: str | None) -> list[str]:
    """The columns this section shows: the quality scores (FID/KID/IS in any feature space) and
    the metric the best epoch was ranked by; precision/recall/density/coverage and memorisation
    have their own sections (coverage.py, memorisation.py), the floors stand beside their score."""
    return [n for n in columns.values(rows) if columns.family(n) == "scores" or n == key]


def score_table(rows: list[dict], names: list[str]) -> tuple[list[str], list[list]]:
    """Header and cells: each score, its std, its floor and the score ÷ its floor (when the run
    logged a floor; the sort of the page's tables reads "1.9×" as 1.9)."""
    header, getters = ["epoch"], [lambda x: fmt(x.get("epoch"))]
    for n in names:
        header.append(n)
        getters.append(lambda x, n=n: fmt(x.get(n)))
        extra = [n + columns.STD, columns.floor_of(n)]
        for c in extra:
            if any(number(x.get(c)) is not None for x in rows):
                header.append(c)
                getters.append(lambda x, c=c: fmt(x.get(c)))
        if any(number(x.get(columns.floor_of(n))) is not None for x in rows):
            header.append(f"{n} ÷ floor")
            getters.append(lambda x, n=n: columns.times(x.get(n), x.get(columns.floor_of(n))))
    return header, [[get(x) for get in getters] for x in rows]


def beside_floors(row: dict, names: list[str]) -> list[str]:
    """``FID 2.4 (1.9× the real-vs-real floor 1.26)`` for each score of ``row`` with a floor."""
    return [
        f"{columns.label(n)} {columns.with_floor(row.get(n), row.get(columns.floor_of(n)))}"
        for n in names
        if number(row.get(n)) is not None and number(row.get(columns.floor_of(n))) is not None
    ]


def scores(run: RunFolder) -> dict:
    best = best_choice(run)
    series: dict[str, tuple[list[float], list[float]]] = {}
    rows = best.rows if best else evaluations(run.epochs)
    names = shown_scores(rows, best.key if best else None)
    for name in names:
        points = [(number(x.get("epoch")), number(x.get(name))) for x in rows]
        points = [(e, v) for e, v in points if e is not None and v is not None]
        if points:
            series[name] = ([e for e, _ in points], [v for _, v in points])
    plot = None
    if series or run.ssim:
        best_at = (best.epoch, best.key) if best else (None, "")
        floors = {n: columns.floor_series(rows, n) for n in series}
        png = plots.score_curves(series, *best_at, ssim=(run.ssim, run.epochs), floors=floors)
        plot = links.drawn(png, "scores over epochs", "plot")
    out = {
        "best": None,
        "plot": plot,
        "floored": any(columns.floor_series(rows, n)[0] for n in series),
        "table": None,
        "metric": run.cfg("metrics.best", "val/fid"),
        "folder": str(run.dir),
    }
    if not best:
        return out
    ckpt = best.checkpoint
    shown = str(ckpt.relative_to(run.dir)) if ckpt.is_relative_to(run.dir) else ckpt.name
    at_best = next((x for x in best.rows if number(x.get("epoch")) == best.epoch), {})
    out["best"] = {
        "epoch": fmt(best.epoch),
        "floors": beside_floors(at_best, names),
        # flagged as memorising (scores.csv's column, or metrics.csv's score above the line):
        # better by the metric, passed over — said, never silent; or all flagged, this the best
        "skipped": [fmt(x.get("epoch")) for x in best.skipped],
        "copying": at_best.get("memorising") == "yes",
        "by": f"by {best.key}"
        if best.key
        else f"by gan-lab score ({layout.SCORES_MD} names the metric)",
        "source": links.link(run.dir, run.dir / best.source),
        "checkpoint": links.link(run.dir, ckpt, shown) if ckpt.exists() else None,
        "use": best.use,
    }
    by_file = best.source == layout.SCORES_CSV  # scores.csv names each row's checkpoint
    header, table = score_table(best.rows, names)
    for x, row in zip(best.rows, table, strict=True):
        if by_file:  # a link only to a file inside the run folder: the CSV is the folder's data
            named = str(x.get("checkpoint") or "")
            inside = links.inside(run.dir, run.dir / named) and not Path(named).is_absolute()
            row.append(links.link(run.dir, run.dir / named, named) if inside else named)
    out["table"] = {
        "header": header + (["checkpoint"] if by_file else []),
        "rows": table,
        "marks": [
            "best" if number(x.get("epoch")) == best.epoch else "warn" if is_flagged(x) else ""
            for x in best.rows
        ],
    }
    return out
