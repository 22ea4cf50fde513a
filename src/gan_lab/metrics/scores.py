"""The scores of a run's saved checkpoints and the best of them (003 §13.1; ``gan-lab score``).

Unset settings come from the run's own ``metrics`` config. Writes <run_dir>/scores.csv and
scores.md; afterwards ``ckpt=best@<run_dir>`` selects the checkpoint marked best wherever
checkpoint.load_gan is used (``gan-lab sample``, ``invert.py``, a resume).
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
from gan_lab.metrics.best import best_row, metric_key
from gan_lab.metrics.extractors import load_extractor
from gan_lab.metrics.images import generate_unit, real_subset
from gan_lab.metrics.scorer import Scorer
from gan_lab.runs import layout
from gan_lab.runs.files import check_no_links
from gan_lab.runs.safe_io import write_atomic
from gan_lab.training.checkpoint import load_gan, read_checkpoint

# The settings a run's metrics config decides unless given on the command line (conf/score.yaml).
SETTINGS = ("extractor", "n_samples", "inception_weights", "best", "batch_size", "seed")


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


def score_run(run_dir: str | Path, device: str = "auto", **overrides) -> list[dict]:
    """One row per checkpoint (metrics, epoch, best=yes on the best); writes scores.csv and scores.md.

    ``overrides``: any key of conf/score.yaml (extractor=, n_samples=, best=, ...).
    """
    run_dir = Path(run_dir).expanduser().resolve()
    check_no_links(run_dir)  # before minutes of scoring: the tables are written into it
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
    scorer.add_real(real_subset(dm.images, cfg["n_samples"], cfg["seed"]))
    rows = []
    for path in files:
        gan = load_gan(path, dev)
        fakes = generate_unit(
            gan.generator,
            gan.noise,
            cfg["n_samples"],
            cfg["seed"],
            cfg["batch_size"],
            dev,
            gan.class_ids,
        )
        scores = scorer.score(fakes)
        rows.append({"checkpoint": str(path.relative_to(run_dir)), "epoch": gan.epoch, **scores})
        print(f"{path.name}: " + ", ".join(f"{k} {v:.4g}" for k, v in scores.items()), flush=True)
    key = metric_key(cfg["best"], scorer.suffix)
    if key not in rows[0]:
        raise UserError(
            f"best={cfg['best']} is not a computed metric; choose one of {list(scores)}."
        )
    best = best_row(rows, key)  # IS: higher is better; FID/KID: lower
    for row in rows:
        row["best"] = "yes" if row is best else ""
    write_tables(run_dir, rows, key, cfg)
    return rows


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
        f"`{cfg['extractor']}`; best by `{key}`.",
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
