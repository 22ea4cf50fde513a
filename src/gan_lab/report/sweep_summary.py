"""A sweep's summary (summary.csv, settings.csv, summary.md, summary.png: ``gan-lab summarize``)
and SweepSummary, the Hydra callback that writes it when a ``train.py -m`` sweep ends
(conf/hydra/default.yaml).

It only calls downward: the rows and the two tables are gan_lab.runs.sweep's (reading), the
picture gan_lab.report.sweep_figure's (drawing), so the summary, its picture and the sweep's
report.html never read a multirun folder in two ways.
"""

from pathlib import Path

from hydra.experimental.callback import Callback

from gan_lab.metrics.best import higher_is_better
from gan_lab.report.sweep_figure import write_image
from gan_lab.runs.layout import FAILED
from gan_lab.runs.seeds import Pooled, pooled
from gan_lab.runs.sweep import find_runs, stored_choice, summary_rows, write_tables


def settings(rows: list[dict], varied: list[str], sweep_dir: Path, metric: str | None) -> Pooled:
    """The rows pooled per setting (gan_lab.runs.seeds), ranked by ``metric`` (None: the
    sweep.metric the runs were started with) in the direction of the one best-score rule."""
    wanted, best = stored_choice(sweep_dir)
    return pooled(rows, varied, metric or wanted, best, higher_is_better)


def summarize(sweep_dir: str | Path, metric: str | None = None) -> list[dict]:
    """Write summary.csv, settings.csv, summary.md and summary.png into ``sweep_dir``; returns
    the rows. ``metric`` ranks the settings (None: the runs' sweep.metric)."""
    sweep_dir = Path(sweep_dir).expanduser().resolve()
    rows, varied = summary_rows(sweep_dir)
    write_tables(rows, varied, sweep_dir, settings(rows, varied, sweep_dir, metric))
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
            summarize(sweep_dir, str(config.get("sweep", {}).get("metric") or "auto"))
            print(f"summary of the sweep: {sweep_dir / 'summary.md'}")
