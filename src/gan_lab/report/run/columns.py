"""The score columns of a run's tables by what they measure, and each score beside its floor.

metrics.csv and scores.csv hold ``val/<metric><suffix>`` (the suffix names a classifier feature
space: ``val/fid_digits``), its ``_std`` where the metric has one and its ``_floor``: the same
metric of real images against held-out real images of the same set, same n, same feature space.
A score means something only beside its floor — an FD of 2.4 is excellent where two halves of the
data are 2.3 apart and poor where they are 0.1 apart — so the page never shows one without the
other where the run measured both. Runs from before the floors show their scores as before.
"""

import math

from gan_lab.report.run.best import evaluations
from gan_lab.report.run.folder import RunFolder, fmt, number
from gan_lab.runs import layout

FLOOR, STD = "_floor", "_std"
# Which section shows a metric: the quality scores with the best checkpoint ("scores"), the
# fidelity and diversity of the samples ("coverage"), and the copies of training images
# ("memorisation"). A val/* name not listed here (a metric added later) is shown with the scores.
FAMILIES = {
    "fid": "scores",
    "kid": "scores",
    "is": "scores",
    "precision": "coverage",
    "recall": "coverage",
    "density": "coverage",
    "coverage": "coverage",
    "memorisation": "memorisation",
}
PRDC = ("precision", "recall", "density", "coverage")  # in the order the page shows them


def base(name: str) -> str:
    """``val/fid_digits_floor`` → ``fid``; a name of no known metric → its own text after val/."""
    rest = name.split("/", 1)[-1]
    known = [b for b in FAMILIES if rest == b or rest.startswith(b + "_")]
    return max(known, key=len) if known else rest


def family(name: str) -> str:
    return FAMILIES.get(base(name), "scores")


def is_floor(name: str) -> bool:
    return name.endswith(FLOOR)


def floor_of(name: str) -> str:
    """The column of ``name``'s floor: ``val/fid_digits`` → ``val/fid_digits_floor``."""
    return name + FLOOR


def values(rows: list[dict], names: list[str] | None = None) -> list[str]:
    """The score columns (``val/*``, no floors, no stds) that hold a number in any of ``rows``,
    sorted; only those of ``names`` when given."""
    found = {
        k for r in rows for k, v in r.items() if k.startswith("val/") and number(v) is not None
    }
    found = {k for k in found if not is_floor(k) and not k.endswith(STD)}
    return sorted(found if names is None else found & set(names))


def of_family(rows: list[dict], which: str) -> list[str]:
    return [n for n in values(rows) if family(n) == which]


def ratio(value, floor) -> float | None:
    """``value`` ÷ ``floor``; None when either is missing or the floor is not above 0 (KID's
    unbiased floor scatters around 0: a ratio to it would be noise)."""
    v, f = number(value), number(floor)
    if v is None or f is None or f <= 0:
        return None
    return v / f


def times(value, floor) -> str:
    """``1.9×``, or "" when there is no ratio to show."""
    r = ratio(value, floor)
    return "" if r is None else f"{r:.3g}×"


def with_floor(value, floor) -> str:
    """``2.4 (1.9× the real-vs-real floor 1.26)``; the value alone when the run logged no floor."""
    shown = fmt(value)
    if number(floor) is None:
        return shown
    r = ratio(value, floor)
    if r is None:
        return f"{shown} (the real-vs-real floor is {fmt(floor)}: at or below 0, no ratio)"
    return f"{shown} ({r:.3g}× the real-vs-real floor {fmt(floor)})"


def label(name: str) -> str:
    """What a reader calls the metric: ``val/fid`` → FID (Inception), ``val/fid_digits`` → FD
    (digits features): a distance in a classifier's features is no Inception FID."""
    b, rest = base(name), name.split("/", 1)[-1]
    space = rest[len(b) :].lstrip("_")
    short = {"fid": "FD", "kid": "KID", "is": "IS"}.get(b, b)
    if not space:
        return "FID" if b == "fid" else short
    return f"{short} ({space} features)"


def floor_series(rows: list[dict], name: str) -> tuple[list[float], list[float]]:
    """(epochs, floors) of ``name``'s floor where the rows hold one."""
    points = [(number(r.get("epoch")), number(r.get(floor_of(name)))) for r in rows]
    points = [(e, f) for e, f in points if e is not None and f is not None and math.isfinite(f)]
    return [e for e, _ in points], [f for _, f in points]


def scored(run: RunFolder, which: str) -> tuple[str, list[dict]]:
    """(file, rows) that hold the scores of ``which`` family: gan-lab score's scores.csv when it
    has them (the table ``best@`` reads), else the evaluations of the training's metrics.csv;
    ("", []) when neither does."""
    if run.scores and of_family(run.scores, which):
        return layout.SCORES_CSV, run.scores
    rows = evaluations(run.epochs)
    return (layout.METRICS_CSV, rows) if of_family(rows, which) else ("", [])
