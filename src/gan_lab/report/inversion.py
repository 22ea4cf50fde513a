"""An inversion folder's report.html (design §7, 003 §13–17): what was projected into which
generator, target against reconstruction, the evolution, the loss curves, the edits, the
interpolation and the comparison of two generators — whatever the mode wrote.

It reads the folder alone: inversion.json (what invert.py was asked), ``<prefix>loss.csv`` (each
inversion's MSE per step and restart) and the pictures of gan_lab.latent.run. Each section below
turns them into plain data for its template (templates/inversion/).
"""

import json
import logging
from pathlib import Path

from gan_lab.errors import UserError
from gan_lab.report import links, page, plots
from gan_lab.runs.files import check_no_links, read_bytes, read_rows, too_deep
from gan_lab.runs.layout import GIF, INVERSION_JSON, JITTER_PNG, LOSS_CSV, REPORT

log = logging.getLogger(__name__)

PICTURES = (
    "target_vs_reconstruction.png",
    "edits.png",
    "interpolation.png",
    "compare.png",
    JITTER_PNG,
)


def is_inversion(folder: Path) -> bool:
    return (folder / INVERSION_JSON).is_file() or any(
        any(folder.glob(f"*{name}")) for name in (LOSS_CSV, *PICTURES)
    )


def listed(value) -> list:
    if value in (None, ""):
        return []
    return value if isinstance(value, list) else [value]


def who(prefix: str, record: dict) -> str:
    """A name for the inversion behind ``prefix``, with its target's file name when recorded:
    ``""`` → the target; ``a_`` → image A of an interpolation; ``B_1_`` → generator B, target 1."""
    targets = listed(record.get("target"))
    parts = prefix.rstrip("_").split("_") if prefix else []
    if not parts:
        name, label = (targets or [None])[0], "the target"
    elif len(parts) == 1:
        key = "target" if parts[0] == "a" else "target_b"
        name, label = (listed(record.get(key)) or [None])[0], f"image {parts[0].upper()}"
    else:
        index = int(parts[1]) if parts[1].isdigit() else -1
        name = targets[index] if 0 <= index < len(targets) else None
        label = f"generator {parts[0]}, target {parts[1]}"
    return f"{label} ({Path(name).name})" if name else label


def inversions(folder: Path, record: dict) -> list[dict]:
    """Every inversion in the folder: its prefix, its MSE per step (each restart), the kept one."""
    found = []
    for path in sorted(folder.glob(f"*{LOSS_CSV}")):
        prefix = path.name[: -len(LOSS_CSV)]
        rows = read_rows(path)
        if not rows:
            continue
        restarts = [k for k in rows[0] if k.startswith("restart_")]
        try:  # the folder's data: a table of anything but numbers is left out, not a traceback
            final = {k: float(rows[-1][k]) for k in restarts}
            best = min(final, key=final.get)
            curve = [float(r[best]) for r in rows]
        except (TypeError, ValueError) as err:
            log.warning("%s is left out of the page: %s", path, str(err)[:200])
            continue
        found.append(
            {
                "prefix": prefix,
                "who": who(prefix, record),
                "csv": path,
                "steps": len(rows) - 1,
                "restarts": len(restarts),
                "best": best,
                "mse": final[best],
                "curve": curve,
            }
        )
    return found


def asked(folder: Path, record: dict) -> dict:
    mode = record.get("mode") or "?"
    facts = []  # (name, text or links.Link)
    for key, text in (
        ("ckpt", "generator A" if mode == "compare" else "generator"),
        ("ckpt_b", "generator B"),
    ):
        if record.get(key):
            facts.append((text, links.link(folder, Path(record[key]), str(record[key]))))
    for key in ("target", "target_b", "z", "z_b"):
        for value in listed(record.get(key)):
            facts.append((key, links.link(folder, Path(value), str(value))))
    if record.get("class") is not None:
        facts.append(("class", record["class"]))
    settings = ("steps", "lr", "momentum", "loss_reduction", "restarts", "seed")
    sgd = ", ".join(f"{k}={record.get(k)}" for k in settings if k in record)
    facts.append(("SGD on z (003 §13)", sgd))
    if mode == "edit":
        edits = f"coords={record.get('coords')}, amounts={record.get('amounts')}"
        facts.append(("edits (003 §14)", edits))
    if mode == "jitter" and isinstance(record.get("jitter"), dict):
        j = record["jitter"]
        which = "all" if j.get("coords") is None else j.get("coords")
        facts.append(
            (
                "random changes (000)",
                f"{j.get('n')} variants, {which} coordinates each, {j.get('noise')} noise of size "
                f"{j.get('amount')}, seed {j.get('seed')}",
            )
        )
    if mode == "interpolate":
        kind = "spherical" if record.get("spherical") else "linear"
        facts.append(("interpolation (003 §16)", f"{record.get('interp_steps')} vectors, {kind}"))
    if not record:
        facts.append(("note", f"no {INVERSION_JSON}: an inversion written before reports existed"))
    return {"mode": mode, "folder": str(folder), "facts": facts}


def results(folder: Path, found: list[dict]) -> dict:
    rows = [
        [
            f["who"],
            f["steps"],
            f["restarts"],
            f["best"],
            f"{f['mse']:.3e}",
            links.link(folder, f["csv"]),
        ]
        for f in found
    ]
    each = []
    for f in found:
        prefix = f["prefix"]
        gif = folder / f"{prefix}{GIF}"
        strip = folder / f"{prefix}evolution.png"
        pair = folder / f"{prefix}target_vs_reconstruction.png"
        each.append(
            {
                "title": f"{f['who']}: final MSE {f['mse']:.3e}",
                "pair": links.picture(folder, pair, "target and reconstruction"),
                "gif": links.picture(folder, gif, "evolution, animated", "thumb pixel")
                if gif.exists()
                else None,
                "gif_link": links.link(folder, gif),
                "strip": links.picture(folder, strip, "evolution", "plot")
                if strip.exists()
                else None,
            }
        )
    return {"rows": rows, "each": each}


def loss(folder: Path, found: list[dict]) -> dict:
    if not found:
        return {"plot": None}
    curves = {f["who"]: f["curve"] for f in found}
    png = plots.inversion_losses(curves, "MSE of the kept restart per SGD step")
    return {
        "plot": links.drawn(png, "inversion loss", "plot"),
        "sources": [links.link(folder, f["csv"]) for f in found],
    }


def optional(folder: Path, names: list[str], caption: str, missing: str) -> dict:
    """The pictures of a mode that may not have run here; ``missing`` says how to draw them."""
    shown = [folder / n for n in names if (folder / n).exists()]
    return {
        "shown": [(links.picture(folder, p, p.stem, "plot"), links.link(folder, p)) for p in shown],
        "caption": caption,
        "missing": missing,
    }


def comparison(folder: Path, found: list[dict], record: dict) -> dict:
    pictures = optional(
        folder,
        ["compare.png", "compare_loss.png"],
        "the same targets through both generators (003 §17)",
        "Not a comparison: python invert.py mode=compare ckpt=<A> ckpt_b=<B> target=... puts two generators side by side.",
    )
    pairs: dict[str, dict[str, float]] = {}
    for f in found:
        bits = f["prefix"].rstrip("_").split("_")
        if len(bits) == 2:
            pairs.setdefault(bits[1], {})[bits[0]] = f["mse"]
    if not pairs:
        return {"pictures": pictures, "rows": None}
    targets = listed(record.get("target"))
    rows = [
        [
            f"{t} ({Path(targets[int(t)]).name})" if t.isdigit() and int(t) < len(targets) else t,
            *(f"{v.get(g, float('nan')):.3e}" for g in ("A", "B")),
        ]
        for t, v in sorted(pairs.items())
    ]
    mean = [
        sum(v[g] for v in pairs.values() if g in v) / max(sum(g in v for v in pairs.values()), 1)
        for g in ("A", "B")
    ]
    rows.append(["mean", f"{mean[0]:.3e}", f"{mean[1]:.3e}"])
    return {"pictures": pictures, "rows": rows}


def files(folder: Path) -> dict:
    own = [
        p
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != REPORT and not p.name.startswith(".")
    ]
    return {"links": [links.link(folder, p) for p in own]}


def read_json(path: Path) -> dict:
    """inversion.json as plain data, or {} with a warning: a regular file within the size cap,
    a JSON object at most files.MAX_DEPTH deep (the folder may come from someone else)."""
    data = read_bytes(path)
    try:
        record = json.loads(data) if data is not None else {}
    except (ValueError, RecursionError) as err:
        log.warning("%s is not read: not JSON (%s)", path, str(err)[:200])
        return {}
    if not isinstance(record, dict) or too_deep(record):
        log.warning("%s is not read: not a JSON object of a few levels", path)
        return {}
    return record


def write_inversion_report(folder: str | Path) -> Path:
    """Write <inversion folder>/report.html; returns its path."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir() or not is_inversion(folder):
        raise UserError(f"{folder} is not an inversion folder (no {INVERSION_JSON} or {LOSS_CSV}).")
    check_no_links(folder)  # the folder is data: the page is written into it
    path = folder / INVERSION_JSON
    record = read_json(path)
    found = inversions(folder, record)
    edits = optional(
        folder,
        ["edits.png"],
        "rows: coordinates, columns: amounts added (003 §14)",
        "No edits: python invert.py mode=edit z=<z.pt> coords=[...] amounts=[...] draws them.",
    )
    interpolation = optional(
        folder,
        ["interpolation.png", "interpolation.gif"],
        "from A to B (003 §16)",
        "No interpolation: python invert.py mode=interpolate target=a.png target_b=b.png draws one.",
    )
    jittered = optional(
        folder,
        [JITTER_PNG],
        "the original, then its variants with random coordinates changed a little; each title "
        "gives its pixel MSE to the original (000)",
        "No random changes: python invert.py mode=jitter jitter.amount=0.1 draws them.",
    )
    S = page.Section
    sections = [
        S("inversion", "What was inverted", "inversion/asked.html.j2", asked(folder, record)),
        S(
            "results",
            "Target and reconstruction",
            "inversion/results.html.j2",
            results(folder, found),
        ),
        S("loss", "Loss", "inversion/loss.html.j2", loss(folder, found)),
        S("edits", "Edited coordinates", "inversion/pictures.html.j2", edits),
        S("interpolation", "Interpolation", "inversion/pictures.html.j2", interpolation),
        S("jitter", "Random changes", "inversion/pictures.html.j2", jittered),
        S(
            "comparison",
            "Two generators",
            "inversion/comparison.html.j2",
            comparison(folder, found, record),
        ),
        S("files", "Files", "inversion/files.html.j2", files(folder)),
    ]
    mode = record.get("mode", "inversion")
    return page.write(folder, f"Inversion ({mode}) {folder.name}", str(folder), sections)
