"""The run's "files" section: every file worth opening, grouped, linked and sized; the
inversions and abandoned branches beside the run. Template: run/files.html.j2."""

from pathlib import Path

from gan_lab.report import links
from gan_lab.report.run.folder import RunFolder
from gan_lab.runs import layout

MAX = 1000  # files of one folder listed, at most (a run scored every epoch for years: its first)
TABLES = (
    layout.METRICS_CSV,
    layout.STEPS_CSV,
    layout.SSIM_CSV,
    layout.WARNINGS_CSV,
    layout.CLASSES_CSV,
    layout.AUDIT_CSV,
    layout.SCORES_CSV,
    layout.SCORES_MD,
    layout.RUN_INFO,
)


def size(path: Path) -> str:
    if not path.is_file():
        return ""
    n = path.stat().st_size
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB" if n >= 1e3 else f"{n} B"


def files(run: RunFolder) -> dict:
    folder = run.dir
    groups = []
    ckpts = layout.all_checkpoints(layout.checkpoints_dir(folder))
    if ckpts:
        groups.append(("checkpoints", ckpts))
    groups.append(("tables", [folder / n for n in TABLES if (folder / n).exists()]))
    pictures = [folder / layout.LOSSES_PNG, *[p for _, p in run.grids], layout.gif_path(folder)]
    pictures += sorted(layout.preview_dir(folder).glob("*.png"))
    groups.append(("pictures", [p for p in pictures if p.exists()]))
    pairs = folder / layout.MEMORISATION
    if pairs.is_dir():  # the closest pairs of every scored epoch (pictures and their CSVs)
        groups.append(("memorisation", sorted(p for p in pairs.iterdir() if p.is_file())[:MAX]))
    logs = [*folder.glob(layout.LOG_GLOB), layout.hydra_config(folder)]
    logs.append(layout.hydra_overrides(folder))
    groups.append(("logs and config", [p for p in logs if p.exists()]))
    inversions = sorted(layout.inversions_dir(folder).glob(f"*/{layout.REPORT}"))
    if inversions:
        groups.append(("inversions of this run", inversions))
    abandoned = sorted(p for p in layout.abandoned_dir(folder).glob("*") if p.is_dir())
    if abandoned:
        groups.append(("abandoned branches (design §9)", abandoned))
    board = layout.tensorboard_dir(folder)
    return {
        "groups": [
            (title, [(links.link(folder, p, str(p.relative_to(folder))), size(p)) for p in paths])
            for title, paths in groups
            if paths
        ],
        "tensorboard": str(board) if board.is_dir() else None,
    }
