"""One page per run, per sweep and per inversion: report.html, readable offline (design §5).

A run's page is written when training ends (the RunReport callback), a sweep's when the sweep
ends (SweepReport, a Hydra callback), an inversion's at the end of invert.py; any of them again
with ``gan-lab report <folder>`` — also for a run that was stopped or still runs. A sweep's
summary (summary.csv/.md/.png) is sweep_summary.py's, written by its own Hydra callback.
"""

from pathlib import Path

from gan_lab.errors import UserError
from gan_lab.report.inversion import is_inversion, write_inversion_report
from gan_lab.report.run import write_run_report
from gan_lab.report.sweep import SweepReport, is_sweep, write_sweep_report
from gan_lab.runs import layout

__all__ = [
    "SweepReport",
    "write_inversion_report",
    "write_report",
    "write_run_report",
    "write_sweep_report",
]


def write_report(folder: str | Path) -> Path:
    """The report of whatever ``folder`` is: a multirun folder, an inversion or a run."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder: pass a run, multirun or inversion folder.")
    if layout.is_study(folder):  # gan-lab tune's folder (its page needs Optuna: imported here)
        from gan_lab.report.study import write_study_report

        return write_study_report(folder)
    if is_sweep(folder):
        return write_sweep_report(folder)
    if is_inversion(folder):
        return write_inversion_report(folder)
    if layout.is_run(folder):
        return write_run_report(folder)
    raise UserError(
        f"{folder} holds no run ({layout.METRICS_CSV}, {layout.CHECKPOINTS}/), no sweep (run "
        f"folders with {layout.SWEEP_RUN_MARK}) and no inversion ({layout.INVERSION_JSON}): "
        "nothing to report."
    )
