"""A run folder's report.html: what was trained, on what, how it went, and what to use (design §5).

One way through: the folder's files are read once (folder.RunFolder), each section turns them
into plain data (its own module), and the templates draw the page (report.page, templates/run/).
"""

import logging
from pathlib import Path

from gan_lab.errors import UserError
from gan_lab.report import page
from gan_lab.report.run import (
    classes,
    coverage,
    data,
    files,
    memorisation,
    overview,
    samples,
    training,
)
from gan_lab.report.run.folder import RunFolder
from gan_lab.runs import layout
from gan_lab.runs.files import check_no_links

log = logging.getLogger(__name__)

# id (the page's anchor), heading, what gathers its data, its template — in the page's order.
SECTIONS = (
    ("run", "The run", overview.overview, "run/overview.html.j2"),
    ("networks", "Networks", overview.networks, "run/networks.html.j2"),
    ("data", "Data", data.data, "run/data.html.j2"),
    ("samples", "Samples over training", samples.samples, "run/samples.html.j2"),
    ("training", "Losses and balance", training.training, "run/training.html.j2"),
    ("scores", "Scores and the best checkpoint", training.scores, "run/scores.html.j2"),
    ("coverage", "Fidelity and diversity", coverage.coverage, "run/coverage.html.j2"),
    ("memorisation", "Memorisation", memorisation.memorisation, "run/memorisation.html.j2"),
    ("classes", "Per class", classes.classes, "run/classes.html.j2"),
    ("files", "Files", files.files, "run/files.html.j2"),
)


def section(folder: RunFolder, sid: str, title: str, gather, template: str) -> page.Section:
    """One section; a note in its place when the folder's files hold values of another shape than
    gan-lab writes (a run.json or a CSV from someone else: the folder is data), with a warning —
    the rest of the page is still written."""
    try:
        return page.Section(sid, title, template, gather(folder))
    except (TypeError, AttributeError, KeyError, ValueError, IndexError) as err:
        log.warning(
            "%s: the %r section is left out: %s: %s", folder.dir, sid, type(err).__name__, err
        )
        why = f"Not shown: the folder's files are not what gan-lab writes ({type(err).__name__})."
        return page.Section(sid, title, "run/unreadable.html.j2", {"why": why})


def write_run_report(run: str | Path, data_root: str | Path | None = None) -> Path:
    """Write <run>/report.html from the run folder's files; returns its path. ``data_root``: the
    data folder the calling process trained on (the live run's report shows its skipped files)."""
    run = Path(run).expanduser().resolve()
    if not run.is_dir() or not layout.is_run(run):
        raise UserError(
            f"{run} is not a run folder (no {layout.METRICS_CSV}, {layout.CHECKPOINTS}/ or "
            f"{layout.SAMPLES}/)."
        )
    check_no_links(run)  # the folder is data: nothing is read or written through a link in it
    folder = RunFolder.read(run)
    folder.data_root = Path(data_root).resolve() if data_root else None
    sections = [section(folder, *parts) for parts in SECTIONS]
    return page.write(run, f"Run {run.name}", f"{folder.status} · {run}", sections)
