"""The truncation curve of a run (``gan-lab score psi_curve=[1.0,0.9,0.8,0.7,0.5]``): the best
checkpoint's FD, precision and recall at each truncation ψ, in <run_dir>/psi.csv and psi.png.

Truncation (gan_lab.core.truncation) is meant to trade variety for typical images; the curve
measures whether it does, in the score's own feature space: precision (samples that land among
real images) should rise as ψ falls while recall (real images that samples reach) falls. It need
not: a small generator without a mapping network may draw a blur at z̄, and then both fall
(docs/scores.md has a measured curve). Every ψ draws the same seeded z (pulled in by ψ), so the
rows differ by ψ alone.

The real side is the score's own (gan_lab.metrics.truth.Truth with the same settings: the same
real images, floors and k), so the ψ = 1 row is the checkpoint's row of scores.csv. Cost: one
set of ``n_samples`` generated images through the extractor per ψ; the real features come from
the cache the score just filled.
"""

import csv
import io
from pathlib import Path

from omegaconf import ListConfig, OmegaConf

from gan_lab.config.schema import SCORE
from gan_lab.config.validate import check_config
from gan_lab.metrics.images import generate_asked
from gan_lab.metrics.scores import checkpoints, set_up
from gan_lab.metrics.truth import Truth, against_floor
from gan_lab.runs import layout
from gan_lab.runs.safe_io import save_atomic, write_atomic
from gan_lab.training.checkpoint import load_gan, resolve_checkpoint

# The curve's columns: {suffix} is the extractor's, placed as in scores.csv (val/fid_shapes_floor).
COLUMNS = (
    "val/fid{suffix}",
    "val/fid{suffix}_floor",
    "val/precision{suffix}",
    "val/recall{suffix}",
    "val/density{suffix}",
    "val/coverage{suffix}",
)


def check_psis(psis) -> list[float]:
    """The ψ values as floats, or the schema's one-paragraph error (before minutes of scoring)."""
    if isinstance(psis, ListConfig):  # from the command line
        psis = OmegaConf.to_container(psis)
    check_config({"psi_curve": psis}, {"psi_curve": SCORE["psi_curve"]})
    return [float(p) for p in psis]


def curve(gan, truth: Truth, psis, n: int, seed: int, device) -> list[dict]:
    """One row per ψ: the COLUMNS of ``truth.evaluate`` for ``n`` samples drawn at that ψ."""
    names = [c.format(suffix=truth.suffix) for c in COLUMNS]
    batch_size, rows = truth.scorer.batch_size, []
    for psi in psis:
        # the same seed asks for the same classes at every ψ
        fakes, asked = generate_asked(
            gan.generator, gan.noise, n, seed, batch_size, device, gan.class_ids, psi
        )
        scores = truth.evaluate(fakes, asked).scores
        rows.append({"psi": psi, **{name: scores.get(name) for name in names}})
    return rows


def chosen_checkpoint(run_dir: Path) -> Path:
    """The checkpoint scores.csv marks best (``gan-lab score`` writes it just before), else the
    newest of the history."""
    if (run_dir / layout.SCORES_CSV).is_file():
        return resolve_checkpoint(layout.best_spec(run_dir))
    return checkpoints(run_dir)[-1]


def psi_curve(run_dir: str | Path, psis, device: str = "auto", **overrides) -> list[dict]:
    """The curve of the run's best (else last) checkpoint; writes psi.csv and psi.png, prints
    each row. ``overrides``: the settings of conf/score.yaml (extractor=, n_samples=, seed=, ...)."""
    psis = check_psis(psis)
    run_dir, _, cfg, dev, truth = set_up(run_dir, device, overrides)
    path = chosen_checkpoint(run_dir)
    gan = load_gan(path, dev)
    rows = [
        {"checkpoint": str(path.relative_to(run_dir)), "epoch": gan.epoch, **row}
        for row in curve(gan, truth, psis, cfg["n_samples"], cfg["seed"], dev)
    ]
    for row in rows:
        scores = {k: v for k, v in row.items() if k.startswith("val/") and v is not None}
        print(f"psi {row['psi']:g}: {against_floor(scores)}", flush=True)
    write_csv(run_dir, rows)
    write_plot(run_dir, rows, truth.suffix, path.name, cfg["n_samples"])
    return rows


def write_csv(run_dir: Path, rows: list[dict]) -> Path:
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return write_atomic(run_dir / layout.PSI_CSV, table.getvalue().encode(), run_dir)


def write_plot(run_dir: Path, rows: list[dict], suffix: str, name: str, n: int) -> Path:
    """FD on the left, precision and recall on the right, both against ψ (1 = no truncation)."""
    from matplotlib.figure import Figure  # object API: no pyplot state, no display

    nan = float("nan")  # a score not computed (prdc needs more than k images): a gap
    rows = [{k: nan if v is None else v for k, v in r.items()} for r in rows]
    rows = sorted(rows, key=lambda r: r["psi"])
    x = [r["psi"] for r in rows]
    fig = Figure(figsize=(8, 3.2))
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.17, top=0.84, wspace=0.3)
    left, right = fig.subplots(1, 2)
    left.plot(x, [r[f"val/fid{suffix}"] for r in rows], "o-", color="tab:red")
    floor = rows[0][f"val/fid{suffix}_floor"]
    if floor == floor:  # not NaN (too few real images for a held-out half)
        left.axhline(floor, color="grey", linestyle="--", label="real-vs-real floor")
        left.legend(loc="best", fontsize="small")
    left.set(xlabel="truncation ψ", ylabel=f"FD{suffix} (lower is better)")
    for key, color in (("precision", "tab:blue"), ("recall", "tab:orange")):
        right.plot(x, [r[f"val/{key}{suffix}"] for r in rows], "o-", color=color, label=key)
    right.set(xlabel="truncation ψ", ylabel="share", ylim=(-0.02, 1.02))
    right.legend(loc="best", fontsize="small")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.suptitle(f"{name}: {n} samples per ψ against {n} real images", fontsize="medium")
    return save_atomic(
        run_dir / layout.PSI_PNG, lambda b: fig.savefig(b, format="png", dpi=90), run_dir
    )
