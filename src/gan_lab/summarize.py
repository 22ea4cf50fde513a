"""One table for a sweep: python -m gan_lab.summarize <multirun folder>

Writes summary.csv, summary.md (one row per run) and summary.png (every run's last sample grid
side by side, captioned with its overrides) into the multirun folder. It also runs by itself at
the end of every ``python train.py -m ...`` (``SweepSummary``, a Hydra callback in
conf/hydra/default.yaml).

Columns: the overrides that differ between runs; ``status`` (ok, incomplete, failed, no metrics);
``epochs``; the final epoch's mean ``d_loss`` and ``g_loss``; ``balance`` = g_loss − d_loss
(0: the two players are even; large and positive: D is winning, G's loss keeps rising; negative:
G fools D); the final mean D(x) and D(G(z)); the last value of every ``val/*`` metric; wall time
(the sum of the epochs' seconds); the run's last sample grid.
"""

import csv
import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from gan_lab.cli import command, meta_args
from gan_lab.errors import UserError, friendly
from gan_lab.runs import layout
from gan_lab.sweep import (
    FAILED,
    columns,
    differing_keys,
    find_runs,
    parse_overrides,
    summarize_run,
)


def write_markdown(rows: list[dict], cols: list[str], path: Path) -> None:
    shown = [c for c in cols if c != "folder"]

    def cell(row: dict, col: str) -> str:
        value = str(row.get(col, ""))
        if col == "run":  # angle brackets: folder names hold commas and '='
            return f"[{value}](<{row['folder']}/>)"
        if col == "samples" and value:
            return f"[{Path(value).stem}](<{value}>)"
        return value.replace("|", "\\|")

    lines = ["| " + " | ".join(shown) + " |", "|" + " --- |" * len(shown)]
    lines += ["| " + " | ".join(cell(r, c) for c in shown) + " |" for r in rows]
    note = "balance = g_loss − d_loss (0: even; > 0: D is winning). wall_min: training minutes."
    path.write_text("\n".join(lines) + f"\n\n{note}\n")


def caption(row: dict, varied: list[str]) -> str:
    text = "\n".join(f"{k}={row[k]}" for k in varied) or row["folder"]
    return f"#{row['run']}\n{text}" + ("" if row["status"] == "ok" else f"\n[{row['status']}]")


def write_image(rows: list[dict], varied: list[str], sweep_dir: Path, path: Path) -> None:
    """Every run's last grid side by side (up to 4 a row), its overrides as the caption."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    ncols = min(len(rows), 4)
    nrows = -(-len(rows) // ncols)
    first = next((sweep_dir / r["samples"] for r in rows if r["samples"]), None)
    aspect = 1.0
    if first:
        with Image.open(first) as im:
            aspect = im.height / im.width
    # Room for the grid at its own aspect ratio plus one caption line per override.
    panel_h = 3.2 * aspect + 0.2 * (len(varied) + 2)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, panel_h * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, row in zip(axes.flat, rows, strict=False):
        if row["samples"]:
            with Image.open(sweep_dir / row["samples"]) as im:
                ax.imshow(im.convert("RGB"))
        else:
            ax.text(0.5, 0.5, "no sample grid", ha="center", va="center")
        ax.set_title(caption(row, varied), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def summarize(sweep_dir: str | Path) -> list[dict]:
    """Write summary.csv, summary.md and summary.png into ``sweep_dir``; returns the rows."""
    sweep_dir = Path(sweep_dir).expanduser().resolve()
    if not sweep_dir.is_dir():
        raise UserError(
            f"{sweep_dir} is not a folder: pass a multirun folder (outputs/multirun/…)."
        )
    runs = find_runs(sweep_dir)
    if not runs:
        raise UserError(
            f"no runs in {sweep_dir}: a multirun folder holds one sub-folder per run, each with "
            f"{layout.SWEEP_RUN_MARK} (python train.py -m ... writes them)."
        )
    overrides = [parse_overrides(r) for r in runs]
    varied = differing_keys(overrides)
    rows = [summarize_run(r, sweep_dir, varied, o) for r, o in zip(runs, overrides, strict=True)]
    cols = columns(rows, varied)
    with (sweep_dir / "summary.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    write_markdown(rows, cols, sweep_dir / "summary.md")
    write_image(rows, varied, sweep_dir, sweep_dir / "summary.png")
    return rows


class SweepSummary(Callback):
    """Hydra callback: marks failed jobs, and writes the summary when a multirun ends."""

    def on_job_end(self, config, job_return, **kwargs) -> None:
        from hydra.core.utils import JobStatus

        if job_return.status == JobStatus.FAILED:
            out = Path(config.hydra.runtime.output_dir)
            out.mkdir(parents=True, exist_ok=True)
            try:
                _ = job_return.return_value  # re-raises the job's exception
            except Exception as err:
                (out / FAILED).write_text(f"{type(err).__name__}: {err}\n")

    def on_multirun_end(self, config, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if sweep_dir.is_dir() and find_runs(sweep_dir):
            summarize(sweep_dir)
            print(f"summary of the sweep: {sweep_dir / 'summary.md'}")


USAGE = "python -m gan_lab.summarize <multirun folder>   (or dir=<multirun folder>)"


@command("summarize", USAGE)
def _main(cfg: DictConfig) -> None:
    rows = summarize(cfg.dir)
    print(f"{len(rows)} runs → {Path(cfg.dir) / 'summary.md'}, summary.csv, summary.png")


@friendly
def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if meta_args(argv, "summarize", __doc__):
        return
    if len(argv) != 1:
        raise UserError(f"pass exactly one multirun folder. Usage: {USAGE}")
    # The folder may be given bare: python -m gan_lab.summarize outputs/multirun/...
    _main([a if a.startswith("dir=") else f"dir={a}" for a in argv])


if __name__ == "__main__":
    main()
