"""An inversion folder's report.html (design §7, 003 §13–17): what was projected into which
generator, target against reconstruction, the evolution, the loss curves, the edits, the
interpolation and the comparison of two generators — whatever the mode wrote.

It reads the folder alone: inversion.json (what invert.py was asked), ``<prefix>loss.csv`` (each
inversion's MSE per step and restart) and the pictures of gan_lab.latent.run.
"""

import json
from pathlib import Path

from gan_lab.errors import UserError
from gan_lab.report import page as P
from gan_lab.report import plots
from gan_lab.runs.files import read_rows
from gan_lab.runs.layout import GIF, INVERSION_JSON, LOSS_CSV, REPORT
from gan_lab.safe_io import write_atomic

SECTIONS = ("inversion", "results", "loss", "edits", "interpolation", "comparison", "files")
PICTURES = ("target_vs_reconstruction.png", "edits.png", "interpolation.png", "compare.png")


def is_inversion(folder: Path) -> bool:
    return (folder / INVERSION_JSON).is_file() or any(
        any(folder.glob(f"*{name}")) for name in (LOSS_CSV, *PICTURES)
    )


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
        final = {k: float(rows[-1][k]) for k in restarts}
        best = min(final, key=final.get)
        found.append(
            {
                "prefix": prefix,
                "who": who(prefix, record),
                "csv": path,
                "steps": len(rows) - 1,
                "restarts": len(restarts),
                "best": best,
                "mse": final[best],
                "curve": [float(r[best]) for r in rows],
            }
        )
    return found


def listed(value) -> list:
    if value in (None, ""):
        return []
    return value if isinstance(value, list) else [value]


def asked(folder: Path, record: dict) -> str:
    mode = record.get("mode") or "?"
    facts = [("mode", f"<code>{P.esc(mode)}</code>"), ("folder", f"<code>{P.esc(folder)}</code>")]
    for key, text in (
        ("ckpt", "generator A" if mode == "compare" else "generator"),
        ("ckpt_b", "generator B"),
    ):
        if record.get(key):
            facts.append((text, P.link(folder, Path(record[key]), str(record[key]))))
    for key in ("target", "target_b", "z", "z_b"):
        for value in listed(record.get(key)):
            facts.append((key, P.link(folder, Path(value), str(value))))
    if record.get("class") is not None:
        facts.append(("class", P.esc(record["class"])))
    settings = ("steps", "lr", "momentum", "loss_reduction", "restarts", "seed")
    facts.append(
        (
            "SGD on z (003 §13)",
            P.esc(", ".join(f"{k}={record.get(k)}" for k in settings if k in record)),
        )
    )
    if mode == "edit":
        facts.append(
            (
                "edits (003 §14)",
                P.esc(f"coords={record.get('coords')}, amounts={record.get('amounts')}"),
            )
        )
    if mode == "interpolate":
        kind = "spherical" if record.get("spherical") else "linear"
        facts.append(
            ("interpolation (003 §16)", P.esc(f"{record.get('interp_steps')} vectors, {kind}"))
        )
    if not record:
        facts.append(("note", f"no {INVERSION_JSON}: an inversion written before reports existed"))
    return P.key_values(facts)


def results(folder: Path, found: list[dict]) -> str:
    if not found:
        return P.note(
            "No inversion in this folder (mode=edit and mode=interpolate with saved vectors invert nothing)."
        )
    rows = [
        [
            P.esc(f["who"]),
            f["steps"],
            f["restarts"],
            P.esc(f["best"]),
            f"{f['mse']:.3e}",
            P.link(folder, f["csv"]),
        ]
        for f in found
    ]
    parts = [
        P.table(
            ["inversion", "steps", "restarts", "kept", "final MSE on [0, 1]", "per step"],
            rows,
            raw=True,
            sortable=True,
            cls="mse",
        )
    ]
    for f in found:
        prefix = f["prefix"]
        pair = folder / f"{prefix}target_vs_reconstruction.png"
        strip = folder / f"{prefix}evolution.png"
        gif = folder / f"{prefix}{GIF}"
        parts.append(f"<h3>{P.esc(f['who'])}: final MSE {f['mse']:.3e}</h3>")
        parts.append(
            P.figure(
                P.picture(folder, pair, "target and reconstruction"), "target | G(z) (003 §13)"
            )
        )
        if gif.exists():
            parts.append(
                P.figure(
                    P.picture(folder, gif, "evolution, animated", "thumb pixel"),
                    P.link(folder, gif),
                )
            )
        if strip.exists():
            parts.append(
                P.figure(
                    P.picture(folder, strip, "evolution", "plot"),
                    "G(z) from the random start to the end",
                )
            )
    return "".join(parts)


def loss(folder: Path, found: list[dict]) -> str:
    if not found:
        return P.note("No loss curve: nothing was inverted here.")
    curves = {f["who"]: f["curve"] for f in found}
    png = plots.inversion_losses(curves, "MSE of the kept restart per SGD step")
    sources = ", ".join(P.link(folder, f["csv"]) for f in found)
    return P.figure(P.img_bytes(png, "inversion loss", cls="plot"), f"from {sources}")


def optional(folder: Path, names: list[str], caption: str, missing: str) -> str:
    shown = [folder / n for n in names if (folder / n).exists()]
    if not shown:
        return P.note(P.esc(missing))
    return "".join(
        P.figure(P.picture(folder, p, p.stem, "plot"), f"{caption}: {P.link(folder, p)}")
        for p in shown
    )


def comparison(folder: Path, found: list[dict], record: dict) -> str:
    parts = optional(
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
    if pairs:
        targets = listed(record.get("target"))
        rows = [
            [
                f"{t} ({Path(targets[int(t)]).name})"
                if t.isdigit() and int(t) < len(targets)
                else t,
                *(f"{v.get(g, float('nan')):.3e}" for g in ("A", "B")),
            ]
            for t, v in sorted(pairs.items())
        ]
        mean = [
            sum(v[g] for v in pairs.values() if g in v)
            / max(sum(g in v for v in pairs.values()), 1)
            for g in ("A", "B")
        ]
        rows.append(["mean", f"{mean[0]:.3e}", f"{mean[1]:.3e}"])
        parts += "<h3>Final MSE per target</h3>" + P.table(
            ["target", "MSE with A", "MSE with B"], rows, sortable=True, cls="compare"
        )
    return parts


def files(folder: Path) -> str:
    items = [
        p
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != REPORT and not p.name.startswith(".")
    ]
    return "<ul>" + "".join(f"<li>{P.link(folder, p)}</li>" for p in items) + "</ul>"


def render(folder: Path) -> str:
    path = folder / INVERSION_JSON
    record = json.loads(path.read_text()) if path.is_file() else {}
    found = inversions(folder, record)
    sections = [
        ("inversion", "What was inverted", asked(folder, record)),
        ("results", "Target and reconstruction", results(folder, found)),
        ("loss", "Loss", loss(folder, found)),
        (
            "edits",
            "Edited coordinates",
            optional(
                folder,
                ["edits.png"],
                "rows: coordinates, columns: amounts added (003 §14)",
                "No edits: python invert.py mode=edit z=<z.pt> coords=[...] amounts=[...] draws them.",
            ),
        ),
        (
            "interpolation",
            "Interpolation",
            optional(
                folder,
                ["interpolation.png", "interpolation.gif"],
                "from A to B (003 §16)",
                "No interpolation: python invert.py mode=interpolate target=a.png target_b=b.png draws one.",
            ),
        ),
        ("comparison", "Two generators", comparison(folder, found, record)),
        ("files", "Files", files(folder)),
    ]
    mode = record.get("mode", "inversion")
    return P.page(f"Inversion ({mode}) {folder.name}", P.esc(str(folder)), sections)


def write_inversion_report(folder: str | Path) -> Path:
    """Write <inversion folder>/report.html; returns its path."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir() or not is_inversion(folder):
        raise UserError(f"{folder} is not an inversion folder (no {INVERSION_JSON} or {LOSS_CSV}).")
    return write_atomic(folder / REPORT, render(folder).encode("utf-8"))
