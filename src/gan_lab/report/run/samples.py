"""What the generator drew: the fixed-noise grids over training ("samples": the first and the
latest, every one on a slider, a few at a glance, the GIF; each class's grid rows are in
classes.py). Template: run/samples.html.j2."""

import json

from gan_lab.core.truncation import PSI_RANGE
from gan_lab.report import images, links
from gan_lab.report.run.folder import RunFolder
from gan_lab.runs import layout

GLANCE = 8  # grids shown side by side at a glance (the slider shows every one)
GLANCE_PX = 160  # each of them downsized to this and embedded


def grid_psi(path) -> str | None:
    """The grid's ψ text chunk as a number in PSI_RANGE (``0.7``), else None: the chunk is the
    folder's data, and a page does not caption a grid "truncated ψ=nan" or "ψ=<script>"."""
    text = images.png_text(path, layout.GRID_PSI)
    try:
        psi = float(text or "")
    except ValueError:
        return None
    return f"{psi:g}" if PSI_RANGE[0] <= psi < PSI_RANGE[1] else None  # 1: not truncated


def label(epoch: int, path) -> str:
    """ "epoch 10", and the grid's truncation ψ where it was drawn with one (callbacks.samples.psi:
    not the generator's own samples; a resume may change it, so each file says its own)."""
    psi = grid_psi(path)
    return f"epoch {epoch}" + (f", truncated ψ={psi[:8]}" if psi else "")


def glance(run: RunFolder) -> list[tuple[str, links.Picture]]:
    """Up to GLANCE grids evenly spread over the run, downsized, each linked to its file and
    captioned by ``label``."""
    chosen = run.grids
    if len(chosen) > GLANCE:
        idx = sorted({round(i * (len(chosen) - 1) / (GLANCE - 1)) for i in range(GLANCE)})
        chosen = [chosen[i] for i in idx]
    shown = [(label(e, path), path, images.downsized(path, GLANCE_PX)) for e, path in chosen]
    return [
        (caption, links.drawn(png, caption, "pixel", links.href(run.dir, path)))
        for caption, path, png in shown
        if png is not None  # not a picture (images.open_image): left out, with a warning
    ]


def slider(run: RunFolder) -> dict:
    """Every grid, one at a time (templates/page.js drives it). The frames are linked, not
    embedded: a 300-epoch run's grids would make the page tens of megabytes."""
    srcs = [links.href(run.dir, p) for _, p in run.grids]
    labels = [label(e, p) for e, p in run.grids]
    return {
        # JSON in an attribute: the template escapes its quotes, the browser gives them back
        "frames": json.dumps({"src": srcs, "label": labels}),
        "last": len(srcs) - 1,
        "label": labels[-1],
        "src": srcs[-1],
    }


def samples(run: RunFolder) -> dict:
    if not run.grids:
        pattern = layout.grid_path(".", 0).as_posix().replace("0000", "NNNN")
        return {"pattern": pattern}
    (first_epoch, first), (last_epoch, last) = run.grids[0], run.grids[-1]
    gif = layout.gif_path(run.dir)
    return {
        "pattern": None,
        "first": {
            "picture": links.picture(run.dir, first, "first grid", "grid pixel"),
            "label": "the untrained generator (003 §3)"
            if first_epoch == 0
            else f"epoch {first_epoch} (the first grid kept)",
            "psi": grid_psi(first),
            "link": links.link(run.dir, first),
        },
        "last": {
            "picture": links.picture(run.dir, last, "final grid", "grid pixel"),
            "epoch": last_epoch,
            "psi": grid_psi(last),
            "link": links.link(run.dir, last),
        },
        "count": len(run.grids),
        "slider": slider(run),
        "glance": glance(run),
        "gif": {
            "link": links.link(run.dir, gif),
            "picture": links.picture(run.dir, gif, "evolution of the grids", "grid pixel"),
        }
        if gif.exists()
        else None,
    }
