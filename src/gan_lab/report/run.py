"""A run folder's report.html: what was trained, on what, how it went, and what to use (design §5).

Everything comes from the run folder's files — the CSVs, the sample grids, run.json (written by
the RunReport callback), .hydra/ and scores.csv — so the page can be written at any time: at the
end of training, after a crash, or while the run still goes on.
"""

import functools
import io
import math
import re
import statistics
from collections import Counter
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf
from PIL import Image

from gan_lab import keys
from gan_lab.checkpoint import best_row, read_checkpoint, resolve_checkpoint
from gan_lab.data.folder import inspect_file
from gan_lab.errors import UserError
from gan_lab.report import page as P
from gan_lab.report import plots
from gan_lab.runs import layout
from gan_lab.runs.files import read_info, read_rows
from gan_lab.runs.layout import (
    AUDIT_CSV,
    LOSSES_PNG,
    METRICS_CSV,
    REPORT,
    SCORES_CSV,
    SSIM_CSV,
    STEPS_CSV,
    WARNINGS_CSV,
)
from gan_lab.safe_io import write_atomic
from gan_lab.sweep import FAILED, parse_overrides, run_status

SECTIONS = ("run", "networks", "data", "samples", "training", "scores", "classes", "files")
GLANCE = 8  # grids shown side by side at a glance (the slider shows every one)
THUMBS = 24  # skipped files shown as thumbnails


# ---- reading the folder ------------------------------------------------------------------
def number(value) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def fmt(value, digits: int = 4) -> str:
    x = number(value)
    if x is None:
        return "" if value is None else str(value)
    if x == int(x) and abs(x) < 1e9:
        return str(int(x))
    return f"{x:.{digits}g}"


def resolved(node, root: DictConfig, path: str = ""):
    """Hydra's record with every interpolation resolved that can be outside Hydra
    (``${data.channels}`` can, ``${hydra:runtime.output_dir}`` cannot: it stays as written)."""
    if isinstance(node, dict):
        return {k: resolved(v, root, f"{path}.{k}" if path else str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [resolved(v, root, f"{path}[{i}]") for i, v in enumerate(node)]
    if isinstance(node, str) and "${" in node:
        try:
            value = OmegaConf.select(root, path)
        except Exception:  # noqa: BLE001 — an unresolvable value is shown as written
            return node
        return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
    return node


def run_config(run: Path, info: dict) -> dict:
    """The config the run trained with: as run.json recorded it when training started (resolved,
    and after a resume the checkpoint's networks and data), else Hydra's record, else the one
    stored in the newest checkpoint."""
    if info.get("config"):
        return info["config"]
    hydra = layout.hydra_config(run)
    if hydra.is_file():
        raw = yaml.safe_load(hydra.read_text()) or {}
        if isinstance(raw.get("paths"), dict):  # ${hydra:runtime.output_dir} is this folder
            raw["paths"]["output_dir"] = str(run)
        return resolved(raw, OmegaConf.create(raw))
    for path in [layout.last_checkpoint(run), *reversed([p for _, p in layout.history(run)])]:
        if path.is_file():
            try:
                return dict(read_checkpoint(path)["gan_lab"]["config"])
            except UserError:
                continue
    return {}


class Run:
    """The files of one run folder, read once."""

    def __init__(self, folder: Path):
        self.dir = Path(folder)
        self.epochs = read_rows(self.dir / METRICS_CSV)
        self.steps = read_rows(self.dir / STEPS_CSV)
        self.ssim = read_rows(self.dir / SSIM_CSV)
        self.warnings = read_rows(self.dir / WARNINGS_CSV)
        self.info = read_info(self.dir)
        self.config = run_config(self.dir, self.info)
        self.grids = layout.grids(self.dir)
        self.checkpoints = layout.history(self.dir)
        hydra = layout.hydra_overrides(self.dir)
        self.overrides = parse_overrides(self.dir) if hydra.is_file() else None

    def cfg(self, dotted: str, default=None):
        node = self.config
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    @property
    def last(self) -> dict:
        return self.epochs[-1] if self.epochs else {}

    @functools.cached_property
    def status(self) -> str:
        sessions = self.info.get("sessions") or []
        if (self.dir / FAILED).exists() or not sessions:
            return run_status(self.dir, self.epochs)
        status = sessions[-1].get("status", "")
        if status == "running":
            return "running (or killed before it could record its end)"
        if status == "finished":
            return run_status(self.dir, self.epochs)
        return status

    def images_per_second(self) -> float | None:
        """The median over epochs of images seen ÷ the epoch's seconds (warm-up epochs and a
        machine busy with other work move the mean more than the median)."""
        batch = (self.info.get("data") or {}).get("global_batch")
        if not batch:
            batch = self.cfg("data.batch_size")
        rates, previous = [], 0
        for row in self.epochs:
            step, seconds = number(row.get("step")), number(row.get("epoch_seconds"))
            if step is not None and seconds:
                rates.append((step - previous) * batch / seconds if batch else None)
                previous = step
        rates = [r for r in rates if r]
        return statistics.median(rates) if rates else None


# ---- the best epoch ----------------------------------------------------------------------
def score_columns(rows: list[dict]) -> list[str]:
    return sorted({k for r in rows for k in r if k.startswith("val/") and not k.endswith("_std")})


def evaluations(rows: list[dict]) -> list[dict]:
    """The epochs at which the scores were computed. metrics.csv repeats the last scores on the
    epochs between evaluations (the logged values persist); a row whose every score equals the
    row before's is such a repeat, not a new measurement of the same value to all digits."""
    out, previous = [], None
    for row in rows:
        values = tuple(row.get(k) or "" for k in score_columns([row]) + score_stds([row]))
        if any(values) and values != previous:
            out.append(row)
        previous = values
    return out


def score_stds(rows: list[dict]) -> list[str]:
    return sorted({k for r in rows for k in r if k.startswith("val/") and k.endswith("_std")})


def scores_key(run: Path) -> str | None:
    """The metric gan_lab.score ranked by, as its scores.md states it."""
    try:
        found = re.search(r"best by `([^`]+)`", (run / layout.SCORES_MD).read_text())
    except OSError:
        return None
    return found.group(1) if found else None


def best_key(wanted: str, columns: list[str]) -> str | None:
    """metrics.best (val/fid) as it appears in the table: val/fid, or val/fid_<extractor>."""
    if wanted in columns:
        return wanted
    named = [c for c in columns if c.startswith(wanted + "_")]
    return named[0] if named else None


def best_choice(r: Run) -> dict | None:
    """Which checkpoint to use. scores.csv (python -m gan_lab.score) decides when it exists —
    the same file and row as ``ckpt=best@<run>``; otherwise the training's own evaluations in
    metrics.csv ranked by the run's metrics.best with the same rule (checkpoint.best_row)."""
    scores = r.dir / SCORES_CSV
    if scores.is_file():
        rows = read_rows(scores)
        try:
            path = resolve_checkpoint(layout.best_spec(r.dir))
        except UserError:
            return None
        row = next((x for x in rows if x.get("best") == "yes"), {})
        return {
            "source": SCORES_CSV,
            "rows": rows,
            "epoch": number(row.get("epoch")),
            "checkpoint": path,
            "key": scores_key(r.dir),
            "use": f"ckpt={layout.best_spec(r.dir)}",
        }
    evaluated = evaluations(r.epochs)
    key = best_key(r.cfg("metrics.best", "val/fid"), score_columns(evaluated))
    if key is None:
        return None
    kept = {e for e, _ in r.checkpoints}
    candidates = [x for x in evaluated if int(number(x.get("epoch")) or 0) in kept] or evaluated
    try:
        row = best_row(candidates, key)
    except ValueError:
        return None
    epoch = int(number(row["epoch"]))
    path = layout.checkpoint_path(r.dir, epoch)
    return {
        "source": METRICS_CSV,
        "rows": evaluated,
        "epoch": epoch,
        "checkpoint": path,
        "key": key,
        "use": f"ckpt={path}",
    }


# ---- the sections ------------------------------------------------------------------------
def overview(r: Run) -> str:
    planned = r.cfg("trainer.max_epochs")
    done = fmt(r.last.get("epoch")) or "0"
    seconds = [number(x.get("epoch_seconds")) for x in r.epochs]
    train_s = sum(s for s in seconds if s)
    sessions = r.info.get("sessions") or []
    devices = sorted(
        {f"{s.get('device_name') or s.get('device')} ×{s.get('devices', 1)}" for s in sessions}
    )
    precisions = sorted({str(s.get("precision")) for s in sessions})
    if r.overrides is None:
        overrides = "not recorded (the run was not started by train.py)"
        command = ""
    else:
        items = [f"{k}={v}" if v != "" else k for k, v in r.overrides.items()]
        overrides = "<br>".join(f"<code>{P.esc(o)}</code>" for o in items) or "none (the defaults)"
        command = "<code>python train.py " + P.esc(" ".join(items)) + "</code>"
    rate = r.images_per_second()
    facts = [
        ("status", P.esc(r.status)),
        ("folder", f"<code>{P.esc(r.dir)}</code>"),
        ("command", command or "—"),
        ("overrides", overrides),
        ("epochs", f"{done} of {fmt(planned)}" if planned else done),
        ("steps", fmt(r.last.get("step")) or "0"),
        ("training time", f"{train_s / 60:.1f} min (sum of the epochs' seconds in {METRICS_CSV})"),
        ("images / s", f"{rate:,.0f} (median over epochs)" if rate else "not recorded"),
        ("device", P.esc(", ".join(devices)) if devices else "not recorded"),
        (
            "precision",
            P.esc(", ".join(precisions))
            if precisions
            else P.esc(r.cfg("trainer.precision", "not recorded")),
        ),
        ("seed", P.esc(r.cfg("seed", ""))),
    ]
    for i, s in enumerate(sessions):
        span = f"epochs {s.get('start_epoch')}→{s.get('end_epoch') if s.get('end_epoch') is not None else '…'}"
        facts.append(
            (
                f"session {i + 1}",
                P.esc(f"{s.get('started')} → {s.get('ended') or '…'}, {span}, {s.get('status')}"),
            )
        )
    return P.key_values(facts)


def networks(r: Run) -> str:
    nets = r.info.get("networks") or {}
    parts = []
    rows = []
    for name in ("generator", "discriminator"):
        net, cfg = nets.get(name) or {}, r.cfg(name, {}) or {}
        preset = cfg.get("_target_", "").rsplit(".", 1)[-1]
        shape_in = net.get("input")
        shape_out = net.get("output")
        rows.append(
            [
                name,
                net.get("class") or preset or "?",
                f"{net['parameters']:,}" if "parameters" in net else "not recorded",
                f"{net['trainable']:,}" if "trainable" in net else "",
                f"{shape_in} → {shape_out}" if shape_in else "",
                ", ".join(
                    f"{k}={v}"
                    for k, v in cfg.items()
                    if not k.startswith("_") and not isinstance(v, dict | list)
                ),
            ]
        )
    parts.append(
        P.table(
            ["network", "class", "parameters", "trainable", "input → output", "settings"],
            rows,
            cls="networks",
        )
    )
    if nets.get("generator", {}).get("ema"):
        parts.append(
            P.note("G's exponential moving average (model.ema) draws every grid and score.")
        )
    procedure = r.cfg("model", {}) or {}
    if procedure:
        text = ", ".join(f"{k}={v}" for k, v in procedure.items() if not isinstance(v, dict))
        parts.append(f"<h3>Procedure (model.*)</h3><p><code>{P.esc(text)}</code></p>")
    for name in ("generator", "discriminator"):
        net = nets.get(name) or {}
        if net.get("layers"):
            table = P.table(
                ["layer", "type", "output shape", "parameters"],
                [[n, t, "×".join(map(str, s)), f"{p:,}"] for n, t, s, p in net["layers"]],
            )
            parts.append(
                f"<details><summary>{name}: {len(net['layers'])} layers</summary>{table}</details>"
            )
    if not nets:
        parts.append(
            P.note(
                f"Parameter counts and layer shapes are recorded in {layout.RUN_INFO} when a run starts (this run has none)."
            )
        )
    if r.config:
        text = yaml.safe_dump(r.config, sort_keys=False, allow_unicode=True)
        parts.append(
            f"<details><summary>the composed config</summary><pre>{P.esc(text)}</pre></details>"
        )
    return "".join(parts)


def thumbnail(path: Path, size: int = 64) -> str:
    """A skipped file, shown through the audit's own decoder: regular files only, within the
    pixel budget (a decompression bomb is never decoded here either; design §3.2)."""
    _, array, _ = inspect_file(path, size, "RGB")
    if array is None:  # an unreadable or oversized file is exactly what the audit reports
        return "<span class='missing'>cannot be shown</span>"
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return P.img_bytes(buffer.getvalue(), path.name, cls="small")


def audit(r: Run) -> str:
    path = r.dir / AUDIT_CSV
    rows = read_rows(path)
    if not rows:
        source = r.cfg("data.source", "")
        why = (
            "no problems found"
            if source == "folder" and not path.exists()
            else "not a folder set: nothing to audit"
        )
        if source == "folder" and not path.exists():
            why = f"no {AUDIT_CSV}: every file was usable"
        return f"<h3>Audit</h3>{P.note(P.esc(why))}"
    counts = Counter((x.get("problem", ""), x.get("action", "")) for x in rows)
    summary = P.table(
        ["problem", "action", "files"],
        [[p, a, n] for (p, a), n in sorted(counts.items())],
        cls="audit",
    )
    skipped = [x for x in rows if x.get("action") == "skipped"]
    shown = []
    for x in skipped[:THUMBS]:
        file = Path(x.get("path", ""))
        cell = (
            thumbnail(file)
            if file.is_file()
            else "<span class='missing'>file no longer there</span>"
        )
        shown.append([cell, P.esc(file.name), P.esc(x.get("problem")), P.esc(x.get("detail"))])
    more = f" (the first {THUMBS} of {len(skipped)})" if len(skipped) > THUMBS else ""
    body = f"<h3>Audit ({P.link(r.dir, path)})</h3>{summary}"
    if shown:
        body += f"<h4>Skipped files{more}</h4>" + P.table(
            ["file", "name", "problem", "detail"], shown, raw=True, cls="skipped"
        )
    return body


def data(r: Run) -> str:
    d = r.info.get("data") or {}
    cfg = r.cfg("data", {}) or {}
    facts = [
        (
            "set",
            P.esc(
                f"data={d.get('name') or cfg.get('name', '?')} ({d.get('source') or cfg.get('source', '')})"
            ),
        ),
        ("folder", P.esc(d.get("root") or cfg.get("root") or "—")),
        ("images", fmt(d.get("images")) or "not recorded"),
        (
            "image shape",
            "×".join(map(str, d.get("image_shape", []))) or P.esc(cfg.get("image_size", "")),
        ),
        (
            "batch",
            f"{fmt(d.get('batch_size') or cfg.get('batch_size'))} per device, {fmt(d.get('global_batch'))} in all"
            if d
            else fmt(cfg.get("batch_size")),
        ),
        ("augmentation", P.esc(d.get("augment") or cfg.get("augment") or "none")),
    ]
    per_class = d.get("per_class") or {}
    if per_class:
        facts.append(("classes", P.esc(", ".join(f"{c}: {n}" for c, n in per_class.items()))))
    elif cfg.get("classes"):
        facts.append(("classes", P.esc(cfg.get("classes"))))
    parts = [P.key_values(facts), audit(r)]
    preview = layout.preview_dir(r.dir)
    shown = []
    if (preview / layout.PREVIEW_BATCH).exists():
        shown.append(
            P.figure(
                P.picture(
                    r.dir,
                    preview / layout.PREVIEW_BATCH,
                    "a batch of training images",
                    "grid pixel",
                ),
                "a batch of training images (003 §4)",
            )
        )
    if (preview / layout.PREVIEW_AUGMENT).exists():
        shown.append(
            P.figure(
                P.picture(
                    r.dir, preview / layout.PREVIEW_AUGMENT, "augmentation check", "pixel grid"
                ),
                "each row: an image, then 8 augmented copies (003 §5.1)",
            )
        )
    elif d:
        shown.append(P.note("No augmentation preview: data.augment is off for this set."))
    if shown:
        parts.append("<h3>Preview</h3>" + "".join(shown))
    else:
        parts.append(
            P.note("No preview in this run folder (python -m gan_lab.preview data=... draws one).")
        )
    return "".join(parts)


def glance(r: Run) -> str:
    """Up to GLANCE grids evenly spread over the run, downsized and embedded."""
    chosen = r.grids
    if len(chosen) > GLANCE:
        idx = sorted({round(i * (len(chosen) - 1) / (GLANCE - 1)) for i in range(GLANCE)})
        chosen = [chosen[i] for i in idx]
    cells = []
    for epoch, path in chosen:
        with Image.open(path) as im:
            im = im.convert("RGB")
            im.thumbnail((160, 160))
            buffer = io.BytesIO()
            im.save(buffer, format="PNG")
        pic = f'<a href="{P.href(r.dir, path)}">{P.img_bytes(buffer.getvalue(), f"epoch {epoch}", cls="pixel")}</a>'
        cells.append(P.figure(pic, f"epoch {epoch}"))
    return f'<div class="strip">{"".join(cells)}</div>'


def samples(r: Run) -> str:
    if not r.grids:
        pattern = layout.grid_path(".", 0).as_posix().replace("0000", "NNNN")
        return P.note(f"No sample grids yet ({pattern} appear at every checkpoint).")
    first_epoch, first = r.grids[0]
    last_epoch, last = r.grids[-1]
    untrained = (
        "the untrained generator (003 §3)"
        if first_epoch == 0
        else f"epoch {first_epoch} (the first grid kept)"
    )
    parts = [
        P.figure(
            P.picture(r.dir, first, "first grid", "grid pixel"),
            f"{untrained}: {P.link(r.dir, first)}",
        ),
        P.figure(
            P.picture(r.dir, last, "final grid", "grid pixel"),
            f"epoch {last_epoch}, the latest grid: {P.link(r.dir, last)}",
        ),
        f"<h3>All {len(r.grids)} grids of the fixed noise (003 §9.3)</h3>",
        P.slider(r.dir, [(f"epoch {e}", p) for e, p in r.grids], "fixed-noise grid"),
        "<h3>At a glance</h3>",
        glance(r),
    ]
    gif = layout.gif_path(r.dir)
    if gif.exists():
        parts.append(f"<h3>Evolution ({P.link(r.dir, gif)})</h3>")
        parts.append(P.figure(P.picture(r.dir, gif, "evolution of the grids", "grid pixel")))
    return "".join(parts)


def current_plot(r: Run) -> bytes | None:
    """losses.png when it is as new as every file it is drawn from (EpochHistory draws it with
    plots.training_curves at the end of training): the same picture, without drawing it twice."""
    path = r.dir / LOSSES_PNG
    sources = [r.dir / n for n in (METRICS_CSV, STEPS_CSV, WARNINGS_CSV) if (r.dir / n).exists()]
    if not path.is_file() or any(s.stat().st_mtime_ns > path.stat().st_mtime_ns for s in sources):
        return None
    return path.read_bytes()


def training(r: Run) -> str:
    if not r.epochs:
        return P.note(f"No epoch has ended yet ({METRICS_CSV} is empty).")
    png = current_plot(r) or plots.training_curves(r.epochs, r.steps, r.warnings)
    parts = [
        P.figure(
            P.img_bytes(png, "losses and D's outputs", cls="plot"),
            f"faint: per step ({P.link(r.dir, r.dir / STEPS_CSV)}); bold: epoch means ({P.link(r.dir, r.dir / METRICS_CSV)}); dotted: warnings",
        )
    ]
    last = r.last
    d, g = number(last.get(keys.D_LOSS)), number(last.get(keys.G_LOSS))
    final = [
        ["epoch", fmt(last.get("epoch"))],
        ["d_loss", fmt(d)],
        ["g_loss", fmt(g)],
        ["balance (g_loss − d_loss)", fmt(None if d is None or g is None else round(g - d, 4))],
        ["D(x)", fmt(last.get(keys.D_REAL))],
        ["D(G(z))", fmt(last.get(keys.D_FAKE))],
    ]
    if number(last.get(keys.DIVERSITY)) is not None:
        final.append(["sample diversity", fmt(last.get(keys.DIVERSITY))])
    if number(last.get(keys.ADA_P)) is not None:
        final.append(["augmentation probability p (ADA)", fmt(last.get(keys.ADA_P))])
    parts.append("<h3>The final epoch</h3>" + P.table(["", "value"], final, cls="final"))
    if r.warnings:
        rows = [[fmt(w.get("epoch")), w.get("kind", ""), w.get("message", "")] for w in r.warnings]
        parts.append(
            f'<h3>Warnings ({P.link(r.dir, r.dir / WARNINGS_CSV)})</h3><div class="warnbox">'
            + P.table(["epoch", "kind", "message"], rows, cls="warnings")
            + "</div>"
        )
    else:
        parts.append(P.note("No imbalance or collapse warning (003 §10.2)."))
    return "".join(parts)


def scores(r: Run) -> str:
    best = best_choice(r)
    series: dict[str, tuple[list[float], list[float]]] = {}
    rows = best["rows"] if best else evaluations(r.epochs)
    for name in score_columns(rows):
        points = [(number(x.get("epoch")), number(x.get(name))) for x in rows]
        points = [(e, v) for e, v in points if e is not None and v is not None]
        if points:
            series[name] = ([e for e, _ in points], [v for _, v in points])
    if r.ssim:
        per_epoch = plots.step_epochs(r.ssim, r.epochs, offset=0).tolist()
        series[keys.SSIM] = (per_epoch, [number(x.get("ssim")) for x in r.ssim])
    parts = []
    if best:
        epoch = best["epoch"]
        ckpt = best["checkpoint"]
        by = (
            f"by {best['key']}"
            if best["key"]
            else f"by python -m gan_lab.score ({layout.SCORES_MD} names the metric)"
        )
        exists = ckpt.exists()
        parts.append(
            '<p class="best">Best epoch: <b>'
            + fmt(epoch)
            + f"</b> ({P.esc(by)}, from {P.link(r.dir, r.dir / best['source'])}). Use "
            + (
                P.link(
                    r.dir,
                    ckpt,
                    str(ckpt.relative_to(r.dir)) if ckpt.is_relative_to(r.dir) else ckpt.name,
                )
                if exists
                else "<i>no checkpoint was kept at that epoch</i>"
            )
            + f": <code>{P.esc(best['use'])}</code></p>"
        )
    if series:
        png = plots.score_curves(
            series, None if not best else best["epoch"], best["key"] if best else ""
        )
        parts.append(P.figure(P.img_bytes(png, "scores over epochs", cls="plot")))
    if best:
        names = [c for c in (best["rows"][0] if best["rows"] else {}) if c.startswith("val/")]
        head = ["epoch", *names] + (["checkpoint"] if best["source"] == SCORES_CSV else [])
        table_rows, marks = [], []
        for x in best["rows"]:
            row = [fmt(x.get("epoch")), *(fmt(x.get(n)) for n in names)]
            if best["source"] == SCORES_CSV:
                name = x.get("checkpoint", "")
                row.append(P.link(r.dir, r.dir / name, name))
            table_rows.append(row)
            marks.append("best" if number(x.get("epoch")) == best["epoch"] else "")
        parts.append(
            P.table(head, table_rows, sortable=True, raw=True, cls="scores", row_classes=marks)
        )
    if not series and not best:
        parts.append(
            P.note(
                "No scores: FID/KID/IS were off or not computed yet. Score every checkpoint with "
                f"<code>python -m gan_lab.score run_dir={P.esc(r.dir)}</code> (then this page marks the best one)."
            )
        )
    elif not best:
        parts.append(
            P.note(
                f"No best epoch: metrics.best ({P.esc(r.cfg('metrics.best', 'val/fid'))}) was not computed."
            )
        )
    return "".join(parts)


def class_rows(path: Path, n_rows: int) -> list[bytes]:
    """The grid cut into its rows (make_grid: 2 px padding around every image)."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        height = (im.height - 2) / n_rows
        out = []
        for i in range(n_rows):
            crop = im.crop((0, round(i * height), im.width, round((i + 1) * height) + 2))
            buffer = io.BytesIO()
            crop.save(buffer, format="PNG")
            out.append(buffer.getvalue())
    return out


def classes(r: Run) -> str:
    grid = r.info.get("grid") or {}
    names = grid.get("rows")
    if not names:
        if r.cfg("model.conditional"):
            return P.note(
                f"A conditional run, but its grid rows were not recorded ({layout.RUN_INFO}); each grid row of 8 is one class in order."
            )
        return P.note("Not a conditional run (model.conditional=false): the grids mix the classes.")
    per_class = (r.info.get("data") or {}).get("per_class") or {}
    first = class_rows(r.grids[0][1], len(names)) if r.grids else []
    last = class_rows(r.grids[-1][1], len(names)) if r.grids else []
    rows = []
    for i, name in enumerate(names):
        rows.append(
            [
                P.esc(name),
                fmt(per_class.get(name, "")),
                P.img_bytes(first[i], f"{name}, first grid", cls="row pixel") if first else "",
                P.img_bytes(last[i], f"{name}, final grid", cls="row pixel") if last else "",
            ]
        )
    epochs = (r.grids[0][0], r.grids[-1][0]) if r.grids else ("", "")
    head = ["class", "training images", f"epoch {epochs[0]}", f"epoch {epochs[1]}"]
    return P.table(head, rows, raw=True, cls="classes")


def files(r: Run) -> str:
    def size(p: Path) -> str:
        n = p.stat().st_size
        return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB" if n >= 1e3 else f"{n} B"

    groups = []
    ckpts = layout.all_checkpoints(layout.checkpoints_dir(r.dir))
    if ckpts:
        groups.append(("checkpoints", ckpts))
    tables = [
        r.dir / n
        for n in (
            METRICS_CSV,
            STEPS_CSV,
            SSIM_CSV,
            WARNINGS_CSV,
            AUDIT_CSV,
            SCORES_CSV,
            layout.SCORES_MD,
            layout.RUN_INFO,
        )
    ]
    groups.append(("tables", [p for p in tables if p.exists()]))
    pictures = [r.dir / LOSSES_PNG, *[p for _, p in r.grids], layout.gif_path(r.dir)]
    pictures += sorted(layout.preview_dir(r.dir).glob("*.png"))
    groups.append(("pictures", [p for p in pictures if p.exists()]))
    logs = [
        p
        for p in (
            *r.dir.glob(layout.LOG_GLOB),
            layout.hydra_config(r.dir),
            layout.hydra_overrides(r.dir),
        )
        if p.exists()
    ]
    groups.append(("logs and config", logs))
    inversions = sorted(layout.inversions_dir(r.dir).glob(f"*/{REPORT}"))
    if inversions:
        groups.append(("inversions of this run", inversions))
    abandoned = sorted(p for p in layout.abandoned_dir(r.dir).glob("*") if p.is_dir())
    if abandoned:
        groups.append(("abandoned branches (design §9)", abandoned))
    parts = []
    for title, paths in groups:
        if paths:
            items = "".join(
                f"<li>{P.link(r.dir, p, str(p.relative_to(r.dir)))} <span class='note'>{size(p) if p.is_file() else ''}</span></li>"
                for p in paths
            )
            parts.append(f"<h3>{P.esc(title)}</h3><ul>{items}</ul>")
    if layout.tensorboard_dir(r.dir).is_dir():
        logdir = P.esc(layout.tensorboard_dir(r.dir))
        parts.append(P.note(f"TensorBoard: <code>tensorboard --logdir {logdir}</code>"))
    return "".join(parts)


# ---- the page ----------------------------------------------------------------------------
def render(run: Path) -> str:
    r = Run(run)
    titles = {
        "run": ("The run", overview),
        "networks": ("Networks", networks),
        "data": ("Data", data),
        "samples": ("Samples over training", samples),
        "training": ("Losses and balance", training),
        "scores": ("Scores and the best checkpoint", scores),
        "classes": ("Per class", classes),
        "files": ("Files", files),
    }
    sections = [(sid, titles[sid][0], titles[sid][1](r)) for sid in SECTIONS]
    subtitle = P.esc(f"{r.status} · {r.dir}")
    return P.page(f"Run {r.dir.name}", subtitle, sections)


def write_run_report(run: str | Path) -> Path:
    """Write <run>/report.html from the run folder's files; returns its path."""
    run = Path(run).expanduser().resolve()
    if not run.is_dir() or not layout.is_run(run):
        raise UserError(
            f"{run} is not a run folder (no {METRICS_CSV}, {layout.CHECKPOINTS}/ or "
            f"{layout.SAMPLES}/)."
        )
    return write_atomic(run / REPORT, render(run).encode("utf-8"))
