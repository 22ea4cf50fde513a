"""Which checkpoint to use. scores.csv (gan-lab score) decides when it exists — the
same file and row as ``ckpt=best@<run>``; otherwise the training's own evaluations in metrics.csv,
ranked by the run's metrics.best with the same rule (gan_lab.metrics.best.best_unflagged): the
best of the epochs not flagged as memorising (scores.csv's ``memorising`` column; in metrics.csv,
a memorisation score above the run's metrics.memorisation_line), and the flagged epochs that
scored better are named, never silently passed over."""

from dataclasses import dataclass, field
from pathlib import Path

from gan_lab.errors import UserError
from gan_lab.metrics.best import best_unflagged, is_flagged
from gan_lab.metrics.memorisation import above_line
from gan_lab.report.run.folder import RunFolder, number
from gan_lab.runs import layout
from gan_lab.runs.keys import best_column
from gan_lab.training.checkpoint import resolve_checkpoint


@dataclass(frozen=True)
class Best:
    source: str  # the table that decided: scores.csv or metrics.csv
    rows: list[dict]  # its rows that hold scores
    epoch: float | None
    checkpoint: Path
    key: str | None  # the metric it ranked by (None: scores.md does not say)
    use: str  # what to pass to sample.py, invert.py or a resume: ckpt=...
    skipped: list[dict] = field(default_factory=list)  # flagged as memorising, yet scored better


def score_columns(rows: list[dict]) -> list[str]:
    return sorted({k for r in rows for k in r if k.startswith("val/") and not k.endswith("_std")})


def score_stds(rows: list[dict]) -> list[str]:
    return sorted({k for r in rows for k in r if k.startswith("val/") and k.endswith("_std")})


def evaluations(rows: list[dict]) -> list[dict]:
    """The epochs at which the scores were computed. metrics.csv repeats the last scores on the
    epochs between evaluations (the logged values persist); a row whose every score equals the
    row before's is such a repeat, not a new measurement of the same value to all digits. A row
    whose epoch is not a number is no evaluation of an epoch."""
    out, previous = [], None
    for row in rows:
        if number(row.get("epoch")) is None:
            continue
        values = tuple(row.get(k) or "" for k in score_columns([row]) + score_stds([row]))
        if any(values) and values != previous:
            out.append(row)
        previous = values
    return out


FLAG = "memorising"  # scores.csv's column: "yes" on a checkpoint flagged as memorising


def flagged(rows: list[dict], line) -> list[dict]:
    """metrics.csv's rows, each with FLAG set as gan-lab score sets it: "yes" where a
    memorisation score (``val/memorisation{suffix}``) is above ``line`` (metrics.memorisation_line;
    None: nothing is flagged)."""
    limit = number(line)
    out = []
    for row in rows:
        names = [k for k in row if k.startswith("val/memorisation") and not k.endswith("_floor")]
        values = [number(row.get(k)) for k in names]
        above = any(above_line(v, limit) for v in values)
        out.append({**row, FLAG: "yes" if above else ""})
    return out


def skipped_for(rows: list[dict], key: str | None, chosen: float | None) -> list[dict]:
    """The flagged rows that score better by ``key`` than the chosen epoch's row."""
    row = next((x for x in rows if number(x.get("epoch")) == chosen), None)
    if not key or row is None or number(row.get(key)) is None:
        return []
    _, better = best_unflagged([x for x in rows if x is row or is_flagged(x, FLAG)], key, FLAG)
    return better


def best_choice(run: RunFolder) -> Best | None:
    if run.scores is not None:
        try:
            path = resolve_checkpoint(layout.best_spec(run.dir))
        except UserError:
            return None
        row = next((x for x in run.scores if x.get("best") == "yes"), {})
        use = f"ckpt={layout.best_spec(run.dir)}"
        epoch, key = number(row.get("epoch")), run.scores_key
        skipped = skipped_for(run.scores, key, epoch)
        return Best(layout.SCORES_CSV, run.scores, epoch, path, key, use, skipped)
    evaluated = flagged(evaluations(run.epochs), run.cfg("metrics.memorisation_line"))
    key = best_column(run.cfg("metrics.best", "val/fid"), score_columns(evaluated))
    if key is None:
        return None
    kept = {e for e, _ in run.checkpoints}
    candidates = [x for x in evaluated if int(number(x.get("epoch")) or 0) in kept] or evaluated
    try:
        row, skipped = best_unflagged(candidates, key, FLAG)
    except ValueError:
        return None
    epoch = int(number(row["epoch"]))
    path = layout.checkpoint_path(run.dir, epoch)
    return Best(layout.METRICS_CSV, evaluated, epoch, path, key, f"ckpt={path}", skipped)
