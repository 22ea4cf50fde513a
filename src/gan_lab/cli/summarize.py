"""One table for a sweep: gan-lab summarize <multirun folder> [metric=<column>]

Writes summary.csv (one row per run), settings.csv (one row per setting: every override but
seed, its seeds pooled — n, mean, standard deviation and 95 % interval of every score — ranked by
metric=, each compared with the best: Welch's 95 % interval of the difference, "not
distinguishable" when it holds 0, and Holm-corrected p-values), summary.md (both tables) and
summary.png (every run's last sample grid side by side, captioned with its overrides) into the
multirun folder. It also runs by itself at
the end of every ``python train.py -m ...`` (``gan_lab.report.sweep_summary.SweepSummary``, a
Hydra callback in conf/hydra/default.yaml).

Columns: the overrides that differ between runs; ``status`` (ok, incomplete, failed, no metrics);
``epochs``; the final epoch's mean ``d_loss`` and ``g_loss``; ``balance`` = g_loss − d_loss
(0: the two players are even; large and positive: D is winning, G's loss keeps rising; negative:
G fools D); the final mean D(x) and D(G(z)); the last value of every ``val/*`` metric; wall time
(the sum of the epochs' seconds); the run's last sample grid.
"""

import sys
from pathlib import Path

from omegaconf import DictConfig

from gan_lab.cli import command, meta_args
from gan_lab.errors import UserError, friendly
from gan_lab.report.sweep_summary import summarize

USAGE = "gan-lab summarize <multirun folder>   (or dir=<multirun folder>) [metric=<column>]"


@command("summarize", USAGE)
def _main(cfg: DictConfig) -> None:
    rows = summarize(cfg.dir, cfg.get("metric"))
    print(
        f"{len(rows)} runs → {Path(cfg.dir) / 'summary.md'}, summary.csv, settings.csv, summary.png"
    )


@friendly
def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if meta_args(argv, "summarize", __doc__):
        return
    if len([a for a in argv if not a.startswith("metric=")]) != 1:
        raise UserError(f"pass exactly one multirun folder. Usage: {USAGE}")
    # The folder may be given bare: gan-lab summarize outputs/multirun/...
    _main([a if a.startswith(("dir=", "metric=")) else f"dir={a}" for a in argv])
