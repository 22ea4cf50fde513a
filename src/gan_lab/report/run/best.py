"""Which checkpoint to use. scores.csv (gan-lab score) decides when it exists — the
same file and row as ``ckpt=best@<run>``; otherwise the training's own evaluations in metrics.csv,
ranked by the run's metrics.best with the same rule (gan_lab.metrics.best.best_row)."""

from dataclasses import dataclass
from pathlib import Path

from gan_lab.errors import UserError
from gan_lab.metrics.best import best_row
from gan_lab.report.run.folder import RunFolder, number
from gan_lab.runs import layout
from gan_lab.training.checkpoint import resolve_checkpoint


@dataclass(frozen=True)
class Best:
    source: str  # the table that decided: scores.csv or metrics.csv
    rows: list[dict]  # its rows that hold scores
    epoch: float | None
    checkpoint: Path
    key: str | None  # the metric it ranked by (None: scores.md does not say)
    use: str  # what to pass to sample.py, invert.py or a resume: ckpt=...


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


def best_key(wanted: str, columns: list[str]) -> str | None:
    """metrics.best (val/fid) as it appears in the table: val/fid, or val/fid_<extractor>."""
    if wanted in columns:
        return wanted
    named = [c for c in columns if c.startswith(wanted + "_")]
    return named[0] if named else None


def best_choice(run: RunFolder) -> Best | None:
    if run.scores is not None:
        try:
            path = resolve_checkpoint(layout.best_spec(run.dir))
        except UserError:
            return None
        row = next((x for x in run.scores if x.get("best") == "yes"), {})
        use = f"ckpt={layout.best_spec(run.dir)}"
        return Best(
            layout.SCORES_CSV, run.scores, number(row.get("epoch")), path, run.scores_key, use
        )
    evaluated = evaluations(run.epochs)
    key = best_key(run.cfg("metrics.best", "val/fid"), score_columns(evaluated))
    if key is None:
        return None
    kept = {e for e, _ in run.checkpoints}
    candidates = [x for x in evaluated if int(number(x.get("epoch")) or 0) in kept] or evaluated
    try:
        row = best_row(candidates, key)
    except ValueError:
        return None
    epoch = int(number(row["epoch"]))
    path = layout.checkpoint_path(run.dir, epoch)
    return Best(layout.METRICS_CSV, evaluated, epoch, path, key, f"ckpt={path}")
