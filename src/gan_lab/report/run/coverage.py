"""The run's "coverage" section: precision, recall, density and coverage of the samples against
the real images at every scored epoch (Naeem et al. 2020; gan_lab.metrics.prdc), as a table and a
small plot. FID and KID fold fidelity and diversity into one number; these four pull them apart,
which is what shows mode dropping: a generator that draws a few modes well has high precision
and low recall and coverage. Template: run/coverage.html.j2."""

from gan_lab.report import links, plots
from gan_lab.report.run import columns
from gan_lab.report.run.folder import RunFolder, fmt, number
from gan_lab.runs import layout


def ordered(names: list[str]) -> list[str]:
    """precision, recall, density, coverage — per feature space (suffix), in that order."""
    rank = {b: i for i, b in enumerate(columns.PRDC)}
    return sorted(
        names, key=lambda n: (n[len("val/") + len(columns.base(n)) :], rank[columns.base(n)])
    )


def coverage(run: RunFolder) -> dict:
    source, rows = columns.scored(run, "coverage")
    names = ordered(columns.of_family(rows, "coverage"))
    if not names:
        return {"table": None}
    table = [[fmt(x.get("epoch")), *(fmt(x.get(n)) for n in names)] for x in rows]
    series = {}
    for n in names:
        points = [(number(x.get("epoch")), number(x.get(n))) for x in rows]
        points = [(e, v) for e, v in points if e is not None and v is not None]
        if points:
            series[n] = ([e for e, _ in points], [v for _, v in points])
    return {
        "source": links.link(run.dir, run.dir / source),
        "header": ["epoch", *names],
        "table": table,
        # the training's k; gan-lab score's table does not record the k it was given
        "k": run.cfg("metrics.prdc_k", None) if source == layout.METRICS_CSV else None,
        "plot": links.drawn(
            plots.prdc_curves(series), "precision, recall, density, coverage", "plot"
        ),
    }
