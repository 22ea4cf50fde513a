"""What the generator drew: the fixed-noise grids over training ("samples": the first and the
latest, every one on a slider, a few at a glance, the GIF) and, for a conditional run, each
class's row of the first and last grid ("classes"). Templates: run/samples.html.j2,
run/classes.html.j2."""

import json

from gan_lab.report import images, links
from gan_lab.report.run.folder import RunFolder, fmt
from gan_lab.runs import layout

GLANCE = 8  # grids shown side by side at a glance (the slider shows every one)
GLANCE_PX = 160  # each of them downsized to this and embedded


def glance(run: RunFolder) -> list[tuple[int, links.Picture]]:
    """Up to GLANCE grids evenly spread over the run, downsized, each linked to its file."""
    chosen = run.grids
    if len(chosen) > GLANCE:
        idx = sorted({round(i * (len(chosen) - 1) / (GLANCE - 1)) for i in range(GLANCE)})
        chosen = [chosen[i] for i in idx]
    shown = [(epoch, path, images.downsized(path, GLANCE_PX)) for epoch, path in chosen]
    return [
        (epoch, links.drawn(png, f"epoch {epoch}", "pixel", links.href(run.dir, path)))
        for epoch, path, png in shown
        if png is not None  # not a picture (images.open_image): left out, with a warning
    ]


def slider(run: RunFolder) -> dict:
    """Every grid, one at a time (templates/page.js drives it). The frames are linked, not
    embedded: a 300-epoch run's grids would make the page tens of megabytes."""
    srcs = [links.href(run.dir, p) for _, p in run.grids]
    labels = [f"epoch {e}" for e, _ in run.grids]
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
            "link": links.link(run.dir, first),
        },
        "last": {
            "picture": links.picture(run.dir, last, "final grid", "grid pixel"),
            "epoch": last_epoch,
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


def classes(run: RunFolder) -> dict:
    names = (run.info.get("grid") or {}).get("rows")
    if not names:
        return {"rows": None, "conditional": bool(run.cfg("model.conditional"))}
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
