"""The run's "memorisation" section: does the generator copy its training images? On a set of a
few hundred images that is the failure that matters, and FID rewards it (a copy of the data has
the data's statistics). Shown: the memorisation score of every scored epoch beside its floor (the
same score of held-out real images: what an honest generator would score), the warnings of kind
``memorisation`` in warnings.csv, and the closest sample↔training pairs of the newest scored
epoch (memorisation/epoch_NNNN.png and .csv; gan_lab.metrics.memorisation).
Template: run/memorisation.html.j2."""

from gan_lab.report import links
from gan_lab.report.run import columns
from gan_lab.report.run.best import evaluations
from gan_lab.report.run.folder import RunFolder, fmt, number
from gan_lab.runs import layout
from gan_lab.runs.files import read_rows

KIND = "memorisation"  # warnings.csv's kind for it (the contract of the metrics callback)
PAIRS = 12  # rows of the closest pairs listed under the picture
MAX_PAIRS_BYTES = 4 * 2**20  # a pairs CSV larger than this is not one of ours: not read


def warnings(run: RunFolder) -> list[list[str]]:
    return [
        [fmt(w.get("epoch")), w.get("message", "")] for w in run.warnings if w.get("kind") == KIND
    ]


def gallery_epoch(run: RunFolder, rows: list[dict]) -> int | None:
    """The newest scored epoch whose pairs picture is in the folder (scores.csv's epochs and the
    training's evaluations alike): the picture beside the newest numbers."""
    epochs = {number(x.get("epoch")) for x in [*rows, *evaluations(run.epochs)]}
    for epoch in sorted((int(e) for e in epochs if e is not None and e >= 0), reverse=True):
        if layout.memorisation_png(run.dir, epoch).is_file():
            return epoch
    return None


def pairs(run: RunFolder, epoch: int) -> list[list[str]]:
    """The closest pairs as listed in memorisation/epoch_NNNN.csv (closest first), the first
    PAIRS of them; the CSV is the folder's data: its cells are shown as text, nothing it names
    is opened."""
    found = read_rows(layout.memorisation_csv(run.dir, epoch), MAX_PAIRS_BYTES)
    return [
        [
            fmt(x.get("rank")),
            fmt(x.get("sample")),
            str(x.get("train_name") or fmt(x.get("train_index"))),
            fmt(x.get("distance")),
            fmt(x.get("ssim"), 3),
        ]
        for x in found[:PAIRS]
    ]


def memorisation(run: RunFolder) -> dict:
    source, rows = columns.scored(run, "memorisation")
    names = columns.of_family(rows, "memorisation")
    warned = {number(w[0]) for w in warnings(run)}
    header, table, marks = ["epoch"], [], []
    for n in names:
        header += [n, columns.floor_of(n), f"{n} ÷ floor"]
    marking = any("memorising" in x for x in rows)
    if marking:
        header.append("memorising")
    for x in rows:
        row = [fmt(x.get("epoch"))]
        for n in names:
            floor = x.get(columns.floor_of(n))
            row += [fmt(x.get(n)), fmt(floor), columns.times(x.get(n), floor)]
        if marking:
            row.append(x.get("memorising") or "")
        table.append(row)
        flagged = x.get("memorising") == "yes" or number(x.get("epoch")) in warned
        marks.append("warn" if flagged else "")
    epoch = gallery_epoch(run, rows)
    gallery = None
    if epoch is not None:
        png = layout.memorisation_png(run.dir, epoch)
        csv = layout.memorisation_csv(run.dir, epoch)
        gallery = {
            "epoch": epoch,
            "picture": links.picture(
                run.dir, png, f"closest pairs at epoch {epoch}", "pairs pixel"
            ),
            "link": links.link(run.dir, png, str(png.relative_to(run.dir))),
            "csv": links.link(run.dir, csv, str(csv.relative_to(run.dir))),
            "pairs": pairs(run, epoch),
        }
    newest = next(
        (x for x in reversed(rows) if any(number(x.get(n)) is not None for n in names)), {}
    )
    return {
        "warnings": warnings(run),
        "warnings_csv": links.link(run.dir, run.dir / layout.WARNINGS_CSV),
        "now": [
            f"{n} {columns.with_floor(newest.get(n), newest.get(columns.floor_of(n)))} "
            f"at epoch {fmt(newest.get('epoch'))}"
            for n in names
            if number(newest.get(n)) is not None
        ],
        "line": run.cfg("metrics.memorisation_line", None),
        "table": {"header": header, "rows": table, "marks": marks} if names else None,
        "source": links.link(run.dir, run.dir / source) if source else None,
        "gallery": gallery,
    }
