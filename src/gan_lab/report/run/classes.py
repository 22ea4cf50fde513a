"""The run's "classes" section: is every class drawn, the rare ones too (001: "are the rarer car
types generated correctly?"). From classes.csv (the metrics callback, newest scored epoch): each
class's share of the data and of the samples, a conditional run's accuracy (the share of samples
asked for a class that the extractor classifies as it) and the class's own FD — rarest first, and
for an unconditional run the shares as bars. For a conditional run, each class's row of the first
and the latest grid. Template: run/classes.html.j2."""

from gan_lab.report import images, links, plots
from gan_lab.report.run.folder import RunFolder, fmt, number
from gan_lab.runs import layout

MAX_ROWS = 500  # classes listed (the rarest first); a set may have up to 10,000
MAX_BARS = 60  # classes drawn as bars; more would be unreadable
UNDER = 0.5  # a class whose sample share is below this × its data share is marked under-drawn


def grid_rows(run: RunFolder) -> dict | None:
    """A conditional run's classes, each with its row of the first and the latest grid."""
    names = (run.info.get("grid") or {}).get("rows")
    if not names:
        return None
    per_class = (run.info.get("data") or {}).get("per_class") or {}
    first = images.grid_rows(run.grids[0][1], len(names)) if run.grids else []
    last = images.grid_rows(run.grids[-1][1], len(names)) if run.grids else []
    rows = [
        [
            name,
            fmt(per_class.get(name, "")),
            links.drawn(first[i], f"{name}, first grid", "row pixel") if first else "",
            links.drawn(last[i], f"{name}, final grid", "row pixel") if last else "",
        ]
        for i, name in enumerate(names)
    ]
    epochs = (run.grids[0][0], run.grids[-1][0]) if run.grids else ("", "")
    return {"rows": rows, "header": ["class", "training images", *(f"epoch {e}" for e in epochs)]}


def newest(rows: list[dict]) -> tuple[float | None, list[dict]]:
    """The newest epoch of classes.csv and its rows."""
    epochs = [e for e in (number(x.get("epoch")) for x in rows) if e is not None]
    if not epochs:
        return None, []
    last = max(epochs)
    return last, [x for x in rows if number(x.get("epoch")) == last]


def scores(run: RunFolder) -> dict | None:
    """classes.csv's newest epoch as a table, rarest class first: its rare classes marked, and
    for an unconditional run its under-drawn ones, with bars of the data and sample shares. A
    conditional run asks for every class equally often (gan_lab.metrics.images): its sample
    shares follow what was asked, not what the generator prefers, so its accuracy is the measure
    and no class is called under-drawn for its share."""
    epoch, rows = newest(run.classes)
    if epoch is None:
        return None
    conditional = bool(run.cfg("model.conditional")) or any(
        number(x.get("accuracy")) is not None for x in rows
    )
    rows = sorted(rows, key=lambda x: (number(x.get("data_share")) or 0.0, str(x.get("class"))))
    rare = 0.5 / len(rows)  # half of an even share
    table, marks = [], []
    for x in rows[:MAX_ROWS]:
        data, drawn = number(x.get("data_share")), number(x.get("sample_share"))
        ratio = drawn / data if data and drawn is not None else None
        why = []
        if data is not None and data < rare:
            why.append("rare")
        cells = [str(x.get("class", "")), fmt(data), fmt(drawn)]
        if conditional:
            cells.append(fmt(x.get("accuracy")))
        else:
            cells.append("" if ratio is None else f"{ratio:.2f}×")
            if ratio is not None and ratio < UNDER:
                why.append("under-drawn")
        cells += [fmt(x.get("fd")), ", ".join(why)]
        table.append(cells)
        marks.append("warn" if why else "")
    header = ["class", "data share", "sample share"]
    header += ["accuracy"] if conditional else ["sample ÷ data share"]
    header += ["FD of the class", "note"]
    bars = None
    shares = [number(x.get("sample_share")) for x in rows]
    if not conditional and len(rows) <= MAX_BARS and all(s is not None for s in shares):
        png = plots.class_shares(
            [str(x.get("class", "")) for x in rows],
            [number(x.get("data_share")) or 0.0 for x in rows],
            shares,
            f"classes in the data and in the samples, epoch {fmt(epoch)}",
        )
        bars = links.drawn(png, "data share and sample share per class", "plot")
    return {
        "epoch": fmt(epoch),
        "header": header,
        "rows": table,
        "marks": marks,
        "more": len(rows) - MAX_ROWS if len(rows) > MAX_ROWS else 0,
        "conditional": conditional,
        "bars": bars,
        "under": UNDER,
    }


def classes(run: RunFolder) -> dict:
    return {
        "grid": grid_rows(run),
        "scores": scores(run),
        "conditional": bool(run.cfg("model.conditional")),
        "csv": links.link(run.dir, run.dir / layout.CLASSES_CSV),
    }
