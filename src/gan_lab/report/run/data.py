"""The run's "data" section: the set it trained on, the audit of a folder set (with the skipped
files seen through the audit's own decoder) and the previews. Template: run/data.html.j2."""

from collections import Counter
from pathlib import Path

from gan_lab.report import images, links
from gan_lab.report.run.folder import RunFolder, fmt
from gan_lab.runs import layout

THUMBS = 24  # skipped files shown as thumbnails


def audit(run: RunFolder) -> dict:
    csv = links.link(run.dir, run.dir / layout.AUDIT_CSV)
    if not run.audit:
        folder_set = run.cfg("data.source", "") in ("folder", "digits")
        why = (
            f"no {layout.AUDIT_CSV}: every file was usable"
            if folder_set and csv.href is None
            else "not a folder set: nothing to audit"
        )
        return {"why": why}
    counts = Counter((x.get("problem", ""), x.get("action", "")) for x in run.audit)
    skipped = [x for x in run.audit if x.get("action") == "skipped"]
    shown = []
    for x in skipped[:THUMBS]:
        file = Path(x.get("path") or "")
        # The CSV is the folder's data: a path it lists is decoded only when it lies inside the
        # run folder (links.inside) or the data folder the live run trained on, never an
        # absolute path to anywhere on this machine.
        ours = file.is_absolute() and (
            links.inside(run.dir, file)
            or (run.data_root is not None and links.inside(run.data_root, file))
        )
        png = images.audit_thumbnail(file) if ours and file.is_file() else None
        why = "cannot be shown" if file.is_file() else "file no longer there"
        if not ours:
            why = (
                "cannot be shown here: outside the run folder and the data folder it trained "
                "on, whose files alone a report opens"
            )
        shown.append(
            {
                "thumb": links.drawn(png, file.name, "small") if png else None,
                "why": why,
                "name": file.name,
                "problem": x.get("problem"),
                "detail": x.get("detail"),
            }
        )
    return {
        "why": None,
        "csv": csv,
        "counts": [[p, a, n] for (p, a), n in sorted(counts.items())],
        "skipped": shown,
        "more": f" (the first {THUMBS} of {len(skipped)})" if len(skipped) > THUMBS else "",
    }


def data(run: RunFolder) -> dict:
    d = run.info.get("data") or {}
    cfg = run.cfg("data", {}) or {}
    batch = d.get("batch_size") or cfg.get("batch_size")
    facts = [
        (
            "set",
            f"data={d.get('name') or cfg.get('name', '?')} ({d.get('source') or cfg.get('source', '')})",
        ),
        ("folder", d.get("root") or cfg.get("root") or "—"),
        ("images", fmt(d.get("images")) or "not recorded"),
        ("image shape", "×".join(map(str, d.get("image_shape", []))) or cfg.get("image_size", "")),
        (
            "batch",
            f"{fmt(batch)} per device, {fmt(d.get('global_batch'))} in all"
            if d
            else fmt(cfg.get("batch_size")),
        ),
        ("augmentation", d.get("augment") or cfg.get("augment") or "none"),
    ]
    per_class = d.get("per_class") or {}
    if per_class:
        facts.append(("classes", ", ".join(f"{c}: {n}" for c, n in per_class.items())))
    elif cfg.get("classes"):
        facts.append(("classes", cfg.get("classes")))
    preview = layout.preview_dir(run.dir)
    batch_png, augment_png = preview / layout.PREVIEW_BATCH, preview / layout.PREVIEW_AUGMENT
    return {
        "facts": facts,
        "audit": audit(run),
        "batch": links.picture(run.dir, batch_png, "a batch of training images", "grid pixel")
        if batch_png.exists()
        else None,
        "augment": links.picture(run.dir, augment_png, "augmentation check", "pixel grid")
        if augment_png.exists()
        else None,
        "augment_off": bool(d),  # run.json recorded the set: no augment.png means no augmentation
    }
