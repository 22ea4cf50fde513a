"""The scores of a run's saved checkpoints and the best of them (003 §13.1; ``gan-lab score``).

Unset settings come from the run's own ``metrics`` config. Writes <run_dir>/scores.csv and
scores.md (each metric beside its real-vs-real floor, PRDC, memorisation and a ``memorising``
column: gan_lab.metrics.truth), memorisation/epoch_NNNN.png|.csv per checkpoint and classes.csv
rows; afterwards ``ckpt=best@<run_dir>`` selects the checkpoint marked best — the best of those
not flagged as memorising — wherever checkpoint.load_gan is used (``gan-lab sample``,
``invert.py``, a resume).
"""

import csv
import io
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from gan_lab.config import compose, registry
from gan_lab.config.schema import SCORE
from gan_lab.config.validate import check_config
from gan_lab.errors import UserError
from gan_lab.hardware import pick_device
from gan_lab.metrics.best import best_unflagged, metric_key
from gan_lab.metrics.classes import FIELDS as CLASS_FIELDS
from gan_lab.metrics.extractors import load_extractor
from gan_lab.metrics.images import generate_asked
from gan_lab.metrics.scorer import Scorer
from gan_lab.metrics.truth import Truth, against_floor
from gan_lab.runs import layout
from gan_lab.runs.files import check_no_links, epoch_of_row, read_rows
from gan_lab.runs.safe_io import write_atomic
from gan_lab.training.checkpoint import load_gan, read_checkpoint

# The settings a run's metrics config decides unless given on the command line (conf/score.yaml).
SETTINGS = (
    "extractor",
    "n_samples",
    "inception_weights",
    "best",
    "batch_size",
    "seed",
    "prdc_k",
    "memorisation_n_train",
    "memorisation_line",
    "class_fd_min",
)


def settings(run_config: dict, cfg: DictConfig) -> dict:
    """Each setting: the command line's value, else the run's metrics config, else conf/metrics."""
    stored = run_config.get("metrics") or {}
    fallback = OmegaConf.to_container(cfg.fallback)
    return {k: cfg[k] if cfg[k] is not None else stored.get(k, fallback[k]) for k in SETTINGS}


def checkpoints(run_dir: Path) -> list[Path]:
    found = [p for _, p in layout.history(run_dir)]
    if not found:
        raise UserError(
            f"no checkpoints in {layout.checkpoints_dir(run_dir)} (expected "
            f"{layout.checkpoint_path(run_dir, 10).name} etc.); run_dir is the output folder of "
            "a train.py run."
        )
    return found


def set_up(run_dir: str | Path, device: str, overrides: dict):
    """What scoring a run needs, for ``gan-lab score`` and its ψ curve alike: the run folder
    (resolved, checked for links before minutes of scoring write into it), its history
    checkpoints, the settings (command line, else the run's, else conf/metrics), the device, and
    a Truth over the run's own data and the chosen feature space."""
    run_dir = Path(run_dir).expanduser().resolve()
    check_no_links(run_dir)
    files = checkpoints(run_dir)
    config = read_checkpoint(files[-1])["gan_lab"]["config"]  # read as data (design §9)
    args = [f"{k}={v}" for k, v in overrides.items()]
    cfg = settings(config, compose("score", [f"run_dir={run_dir}", *args]))
    check_config(cfg, SCORE)
    dev = pick_device(device)
    scorer = Scorer(
        load_extractor(cfg["extractor"], cfg["inception_weights"]), cfg["batch_size"], dev
    )
    dm = registry.build("data", config["data"], files[-1])
    dm.load()
    truth = Truth(
        scorer,
        dm,
        cfg["n_samples"],
        cfg["seed"],
        cfg["prdc_k"],
        cfg["memorisation_n_train"],
        cfg["memorisation_line"],
        cfg["class_fd_min"],
    )
    return run_dir, files, cfg, dev, truth


def samples_of(gan, cfg: dict, dev) -> tuple:
    """The samples a checkpoint is scored on (and the classes asked of a conditional G)."""
    return generate_asked(
        gan.generator,
        gan.noise,
        cfg["n_samples"],
        cfg["seed"],
        cfg["batch_size"],
        dev,
        gan.class_ids,
    )


def score_run(run_dir: str | Path, device: str = "auto", **overrides) -> list[dict]:
    """One row per checkpoint (metrics, epoch, best=yes on the best); writes scores.csv and scores.md.

    ``overrides``: any key of conf/score.yaml (extractor=, n_samples=, best=, ...).
    """
    run_dir, files, cfg, dev, truth = set_up(run_dir, device, overrides)
    scorer = truth.scorer
    rows, class_rows = [], []
    for path in files:
        gan = load_gan(path, dev)
        fakes, asked = samples_of(gan, cfg, dev)
        result = truth.evaluate(fakes, asked)
        result.write_gallery(run_dir, gan.epoch)
        class_rows += result.class_rows(gan.epoch)
        flag = "yes" if result.memorising else ""
        rows.append(
            {
                "checkpoint": str(path.relative_to(run_dir)),
                "epoch": gan.epoch,
                **result.scores,
                "memorising": flag,
            }
        )
        said = " — MEMORISING (above metrics.memorisation_line)" if flag else ""
        print(f"{path.name}: {against_floor(result.scores)}{said}", flush=True)
    key = metric_key(cfg["best"], scorer.suffix)
    if key not in rows[0]:
        raise UserError(
            f"best={cfg['best']} is not a computed metric; choose one of {list(result.scores)}."
        )
    best, skipped = best_unflagged(rows, key)  # IS: higher is better; FID/KID: lower
    for row in rows:
        row["best"] = "yes" if row is best else ""
    if best["memorising"]:
        print(
            f"every checkpoint is flagged as memorising; {best['checkpoint']} is marked best "
            "anyway (the best score of them all): look at memorisation/ before using it.",
            flush=True,
        )
    elif skipped:
        names = ", ".join(r["checkpoint"] for r in skipped)
        print(
            f"best by {key}: {best['checkpoint']}, skipping {names} (flagged as memorising: "
            f"their {key} is better, but they copy training images).",
            flush=True,
        )
    write_tables(run_dir, rows, key, cfg)
    write_classes(run_dir, class_rows)
    return rows


def write_classes(run_dir: Path, rows: list[dict]) -> None:
    """classes.csv: the scored epochs' rows replace those of the same epochs (a training run's
    own rows of other epochs stay); written atomically."""
    if not rows:
        return
    path = run_dir / layout.CLASSES_CSV
    scored = {row["epoch"] for row in rows}
    kept = [r for r in read_rows(path) if epoch_of_row(r) not in scored]
    merged = sorted(kept + rows, key=lambda r: epoch_of_row(r) or 0)  # stable: class order kept
    table = io.StringIO()
    writer = csv.DictWriter(
        table, fieldnames=CLASS_FIELDS, extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(merged)
    write_atomic(path, table.getvalue().encode(), run_dir)


def write_tables(run_dir: Path, rows: list[dict], key: str, cfg: dict) -> None:
    """scores.csv and scores.md, each written atomically (a kill leaves the old table or the new
    one: ``best@`` never points at half a file) and never through a link (gan_lab.runs.safe_io)."""
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(run_dir / layout.SCORES_CSV, table.getvalue().encode(), run_dir)
    names = [k for k in rows[0] if k not in ("checkpoint", "best")]
    best = next(r for r in rows if r["best"])
    lines = [
        f"# Scores of {run_dir.name}",
        "",
        f"{cfg['n_samples']} generated vs {cfg['n_samples']} real images, feature extractor "
        f"`{cfg['extractor']}`; best by `{key}` among the checkpoints not flagged as "
        "memorising. A `_floor` column is the same metric for real images against held-out "
        "real images of the set: the value to read the score against.",
        "",
        "| checkpoint | " + " | ".join(names) + " | best |",
        "|---" * (len(names) + 2) + "|",
    ]
    for r in rows:
        cells = [f"{r[n]:.4g}" if isinstance(r[n], float) else str(r[n]) for n in names]
        lines.append(
            f"| {r['checkpoint']} | "
            + " | ".join(cells)
            + f" | {'**best**' if r['best'] else ''} |"
        )
    lines += [
        "",
        f"Best: `{best['checkpoint']}` ({key} = {best[key]:.4g}); select it with `ckpt={layout.best_spec(run_dir)}`.",
        "",
    ]
    write_atomic(run_dir / layout.SCORES_MD, "\n".join(lines).encode(), run_dir)
