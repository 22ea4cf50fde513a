"""Score every saved checkpoint of a run and name the best (003 §13.1).

gan-lab score run_dir=<output folder> [extractor=...] [n_samples=...] [inception_weights=...] [best=val/fid] [psi_curve=[1.0,0.7,0.5]] [device=auto]

Unset arguments come from the run's own ``metrics`` config. Writes <run_dir>/scores.csv and
scores.md; afterwards ``ckpt=best@<run_dir>`` selects the best checkpoint in gan-lab sample (and
anywhere checkpoint.load_gan is used). psi_curve=[...] also writes psi.csv and psi.png, the best
checkpoint's truncation curve (gan_lab.metrics.psi_curve).
"""

import sys
from pathlib import Path

from omegaconf import DictConfig

from gan_lab.cli import command
from gan_lab.metrics.psi_curve import check_psis, psi_curve
from gan_lab.metrics.scores import SETTINGS, score_run
from gan_lab.runs import layout

USAGE = __doc__.strip().splitlines()[2].strip()


@command("score", USAGE)
def _main(cfg: DictConfig) -> None:
    run_dir = Path(cfg.run_dir)
    overrides = {k: cfg[k] for k in SETTINGS if cfg[k] is not None}
    psis = None if cfg.psi_curve is None else check_psis(cfg.psi_curve)  # before the work
    rows = score_run(run_dir, cfg.device, **overrides)
    best = next(r for r in rows if r["best"])
    print(
        f"scored {len(rows)} checkpoints → {run_dir / layout.SCORES_CSV}, "
        f"{run_dir / layout.SCORES_MD}\n"
        f"best: {run_dir / best['checkpoint']} (use ckpt={layout.best_spec(run_dir)})"
    )
    if psis is not None:
        psi_curve(run_dir, psis, cfg.device, **overrides)
        print(f"truncation curve → {run_dir / layout.PSI_CSV}, {run_dir / layout.PSI_PNG}")


def main(argv: list[str] | None = None) -> None:
    # metrics.x=... (as in train.py and in the messages) means the same as x=...
    argv = sys.argv[1:] if argv is None else argv
    _main([a.removeprefix("metrics.") for a in argv])
