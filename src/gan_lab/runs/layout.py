"""The layout of a run folder: every file and folder name, the epoch in a name, ``best@`` and the
history (design §9). The one module in ``src/`` that spells them (tests/test_design.py checks):
training, the callbacks, the report, scoring, the sweep summary and the roll-back all ask here,
so a name changed here changes for all of them, and no setting can make a writer and its readers
disagree (there is no ``callbacks.checkpoint.filename``: the layout names checkpoints).

    <run>/
      checkpoints/epoch_0010.ckpt   the state after 10 completed epochs (the history)
      checkpoints/last.ckpt         the newest state, rewritten after every epoch
      samples/epoch_0010.png        the fixed-noise grid after 10 epochs (0: the untrained G)
      samples/step_000100.png       ... after 100 iterations (callbacks.samples.every_n_steps)
      samples/evolution.gif         the grids as an animation, at the end
      samples/fixed_noise.pt        the fixed latent vectors
      metrics.csv steps.csv ssim.csv warnings.csv   the history's rows (gan_lab.runs.files)
      warmup.csv                    model.warmup: 003 §6's first-layer-only steps, before training
      classes.csv                   per scored epoch and class: shares, accuracy, FD (metrics)
      memorisation/epoch_0010.png   the closest sample↔training pairs of that epoch (and .csv)
      losses.png run.json report.html data_audit.csv preview/ tensorboard/
      csv/ mlruns/ wandb/           the other loggers' files (logger=csv|mlflow|wandb)
      scores.csv scores.md          gan-lab score; ``best@<run>`` names the row marked best
      psi.csv psi.png               gan-lab score psi_curve=[...]: the best checkpoint per ψ
      abandoned/<time>/             what a resume from an earlier checkpoint or a roll-back left
      inversions/<time>/            invert.py's folders (inversion.json, <prefix>loss.csv, ...)
      .hydra/config.yaml .hydra/overrides.yaml      Hydra's record of the first session
"""

from pathlib import Path

# ---- folders of a run ---------------------------------------------------------------------
CHECKPOINTS = "checkpoints"
SAMPLES = "samples"
ABANDONED = "abandoned"  # abandoned/<time>/: a branch set aside (rollback.set_aside)
INVERSIONS = "inversions"  # inversions/<time>/: invert.py's output beside the run it inverts
PREVIEW_DIR = "preview"  # batch.png and augment.png of the run's data (gan-lab preview's names)
TENSORBOARD = "tensorboard"  # the TensorBoard logger's name (conf/logger/tensorboard.yaml)
# The other loggers' folders (conf/logger/*.yaml; gan_lab.training.loggers): each keeps its files
# inside the run folder unless told otherwise (logger.mlflow.tracking_uri, wandb online).
CSV_LOGS = "csv"  # csv/version_<N>/: Lightning's CSVLogger, one version per session
MLRUNS = "mlruns"  # mlruns/: the run's own MLflow store, MLFLOW_DB and MLFLOW_ARTIFACTS
MLFLOW_DB = "mlflow.db"  # MLflow's SQLite tracking store (its file store is in maintenance mode)
MLFLOW_ARTIFACTS = "artifacts"  # artifacts/<mlflow run id>/artifacts/samples/epoch_0010.png
WANDB = "wandb"  # wandb/offline-run-<time>-<id>/: wandb.init(dir=<run>) names it; wandb sync it
HYDRA = ".hydra"  # Hydra's record: config.yaml and overrides.yaml of the first session
MEMORISATION = "memorisation"  # memorisation/epoch_0010.png/.csv: closest sample↔training pairs

# ---- files --------------------------------------------------------------------------------
LAST = "last.ckpt"
CHECKPOINT_SUFFIX = ".ckpt"
GRID_SUFFIX = ".png"
GRID_PSI = "psi"  # a grid's PNG text chunk: its truncation ψ, present only where ψ ≠ 1
EPOCH_PREFIX = "epoch_"  # epoch_0010.ckpt, epoch_0010.png: the epochs completed, 4 digits
STEP_PREFIX = "step_"  # step_000100.png: a grid after that many training iterations, 6 digits
GRID_EPOCH = "epoch"  # a step grid's PNG text chunk: the epoch it was drawn in (roll-backs read it)
GIF = "evolution.gif"  # the grids' animation; an inversion's <prefix>evolution.gif too
FIXED_NOISE = "fixed_noise.pt"
METRICS_CSV = "metrics.csv"  # one row per epoch: the epoch means and any val/* scores
STEPS_CSV = "steps.csv"  # one row per step: D and G loss, D(x), D(G(z))
SSIM_CSV = "ssim.csv"  # one row per SSIM measurement
WARNINGS_CSV = "warnings.csv"  # one row per imbalance/collapse warning: epoch, kind, message
CLASSES_CSV = "classes.csv"  # per (scored epoch, class): data/sample share, accuracy, FD
WARMUP_CSV = "warmup.csv"  # model.warmup: 003 §6's warm-up, one row per network and SGD step
# Cut back on a resume (design §9): every table whose rows belong to an epoch.
HISTORY = (METRICS_CSV, STEPS_CSV, SSIM_CSV, WARNINGS_CSV, CLASSES_CSV)
LOSSES_PNG = "losses.png"  # the losses and D's outputs of metrics.csv and steps.csv
# What the report needs and no CSV holds: networks, data, device, precision, each session's times.
RUN_INFO = "run.json"
REPORT = "report.html"  # the run's (or sweep's, or inversion's) story on one page: gan_lab.report
AUDIT_CSV = "data_audit.csv"  # every skipped or unusual file of a folder data set
SCORES_CSV = "scores.csv"  # gan-lab score: one row per history checkpoint, best=yes on the best
SCORES_MD = "scores.md"  # the same table to read, naming the metric it ranked by
PSI_CSV = "psi.csv"  # gan-lab score psi_curve=[...]: FD, precision, recall per truncation ψ
PSI_PNG = "psi.png"  # ... the same as a figure
FAILED = "failed.txt"  # written into a sweep's run folder by SweepSummary when its job raised
LOG_GLOB = "*.log"  # Hydra's log of the task (train.log)
PREVIEW_BATCH = "batch.png"
PREVIEW_AUGMENT = "augment.png"
HYDRA_CONFIG = "config.yaml"
HYDRA_OVERRIDES = "overrides.yaml"
HYDRA_SESSIONS = "sessions"  # .hydra/sessions/<time>/: each later session's record
# Held while a process trains in the folder (gan_lab.runs.lock): the lock file, and beside it
# .lock.owner ("process <pid> on <host>", named by the lock module) for a second process's message.
RUN_LOCK = ".lock"
# Names the abandoned/<time>/ folder that files are being moved into, until the move is done: a
# kill mid-move and the next start finish the same move instead of starting a second folder.
MOVING_MARK = f"{ABANDONED}/.moving"

# ---- an inversion's folder (invert.py; read by gan_lab.report.inversion) ------------------
INVERSION_JSON = "inversion.json"  # what was asked
LOSS_CSV = "loss.csv"  # <prefix>loss.csv: one row per SGD step, one column per restart
JITTER_PNG = "jitter.png"  # mode=jitter: the original, then its randomly changed variants
JITTER_CSV = "jitter.csv"  # ... one row per variant: the change and the pixel distance
JITTER_Z = "jitter_z.pt"  # ... the vectors, the original first: (1 + jitter.n, latent_dim)

BEST = "best@"  # best@<run>: the checkpoint scores.csv marks best (gan-lab score)

# ---- a study's folder (gan-lab tune; gan_lab.tune, read by gan_lab.report.study) ------------
#   <study>/study.journal          Optuna's journal: every trial, shared by every worker
#   <study>/study.lock             taken while a worker changes the study's bookkeeping
#   <study>/experiment/best.yaml   the best trial's recipe (gan-lab train experiment=<it>)
#   <study>/trials/0003/           trial 3's run folder (a run like any other)
#   <study>/confirm/best_seed1/    tune.confirm_seeds: the best recipe (or centre_) on a fresh seed
#   <study>/curves.png report.html the study page
STUDY_JOURNAL = "study.journal"
STUDY_LOCK = "study.lock"
EXPERIMENT_DIR = "experiment"  # Hydra's group name: the folder is a config search path
BEST_RECIPE = "best.yaml"
TRIALS = "trials"
STUDY_CURVES = "curves.png"


# ---- paths --------------------------------------------------------------------------------
def checkpoints_dir(run: str | Path) -> Path:
    return Path(run) / CHECKPOINTS


def samples_dir(run: str | Path) -> Path:
    return Path(run) / SAMPLES


def last_checkpoint(run: str | Path) -> Path:
    return checkpoints_dir(run) / LAST


def _numbered(epoch: int, suffix: str) -> str:
    return f"{EPOCH_PREFIX}{epoch:04d}{suffix}"


def checkpoint_path(run: str | Path, epoch: int) -> Path:
    """<run>/checkpoints/epoch_0010.ckpt: the state after ``epoch`` completed epochs."""
    return checkpoints_dir(run) / _numbered(epoch, CHECKPOINT_SUFFIX)


def grid_path(run: str | Path, epoch: int) -> Path:
    """<run>/samples/epoch_0010.png: the fixed-noise grid after ``epoch`` epochs (003 §3)."""
    return samples_dir(run) / _numbered(epoch, GRID_SUFFIX)


def step_grid_path(run: str | Path, step: int) -> Path:
    """<run>/samples/step_000100.png: the fixed-noise grid after ``step`` training iterations
    (callbacks.samples.every_n_steps)."""
    return samples_dir(run) / f"{STEP_PREFIX}{step:06d}{GRID_SUFFIX}"


def memorisation_png(run: str | Path, epoch: int) -> Path:
    """<run>/memorisation/epoch_0010.png: the closest sample↔training pairs of that scored epoch."""
    return Path(run) / MEMORISATION / _numbered(epoch, GRID_SUFFIX)


def memorisation_csv(run: str | Path, epoch: int) -> Path:
    """<run>/memorisation/epoch_0010.csv: rank,sample,train_index,train_name,distance,ssim."""
    return Path(run) / MEMORISATION / _numbered(epoch, ".csv")


def warmup_csv(run: str | Path) -> Path:
    """<run>/warmup.csv: the warm-up's table (gan_lab.training.warmup), written once at the start."""
    return Path(run) / WARMUP_CSV


def gif_path(run: str | Path) -> Path:
    return samples_dir(run) / GIF


def fixed_noise_path(run: str | Path) -> Path:
    return samples_dir(run) / FIXED_NOISE


def hydra_config(run: str | Path) -> Path:
    return Path(run) / HYDRA / HYDRA_CONFIG


def hydra_overrides(run: str | Path) -> Path:
    return Path(run) / HYDRA / HYDRA_OVERRIDES


def hydra_subdir(run: str | Path, stamp: str) -> str:
    """Where Hydra records this session, relative to the run folder: .hydra/ for the first
    session; a later one (a resume) writes .hydra/sessions/<stamp>/, so the first session's config
    and overrides — which the sweep table and the report read — are never overwritten."""
    if hydra_config(run).exists():
        return f"{HYDRA}/{HYDRA_SESSIONS}/{stamp}"
    return HYDRA


def abandoned_dir(run: str | Path, name: str = "") -> Path:
    """<run>/abandoned/<name>/: a branch set aside; without a name, the folder of them all."""
    return Path(run) / ABANDONED / name if name else Path(run) / ABANDONED


def inversions_dir(run: str | Path) -> Path:
    return Path(run) / INVERSIONS


def preview_dir(run: str | Path) -> Path:
    return Path(run) / PREVIEW_DIR


def tensorboard_dir(run: str | Path) -> Path:
    return Path(run) / TENSORBOARD


def mlflow_store(save_dir: str | Path) -> tuple[str, Path]:
    """(tracking URI, artifact folder) of the MLflow store that lives in ``save_dir`` (the run's
    mlruns/): a SQLite file MLflow's own client and ``mlflow ui --backend-store-uri`` read."""
    folder = Path(save_dir).expanduser().absolute()
    return f"sqlite:///{(folder / MLFLOW_DB).as_posix()}", folder / MLFLOW_ARTIFACTS


# ---- reading names ------------------------------------------------------------------------
def epoch_of(path: str | Path) -> int | None:
    """epoch_0010.ckpt / epoch_0010.png → 10; None for any other name (last.ckpt)."""
    stem = Path(path).stem
    if not stem.startswith(EPOCH_PREFIX):
        return None
    digits = stem[len(EPOCH_PREFIX) :]
    return int(digits) if digits.isdigit() else None


def is_last(path: str | Path) -> bool:
    return Path(path).name == LAST


def in_checkpoints(path: str | Path) -> bool:
    """Whether ``path`` lies in a run's checkpoints/ folder."""
    return Path(path).parent.name == CHECKPOINTS


def run_of(checkpoint: str | Path) -> Path:
    """The run folder a checkpoint belongs to: <run>/checkpoints/x.ckpt → <run>; a checkpoint
    elsewhere → its own folder."""
    path = Path(checkpoint).expanduser().resolve()
    return path.parent.parent if in_checkpoints(path) else path.parent


def _numbered_in(folder: Path, suffix: str) -> list[tuple[int, Path]]:
    found = ((epoch_of(p), p) for p in Path(folder).glob(f"{EPOCH_PREFIX}*{suffix}"))
    return sorted((e, p) for e, p in found if e is not None)


def history_in(folder: str | Path) -> list[tuple[int, Path]]:
    """(epoch, path) of the history checkpoints in ``folder`` itself, oldest first."""
    return _numbered_in(Path(folder), CHECKPOINT_SUFFIX)


def history(run: str | Path) -> list[tuple[int, Path]]:
    """(epoch, path) of the run's history checkpoints (never last.ckpt), oldest first."""
    return history_in(checkpoints_dir(run))


def grids(run: str | Path) -> list[tuple[int, Path]]:
    """(epoch, path) of the run's sample grids, oldest first: 0 is the untrained generator."""
    return _numbered_in(samples_dir(run), GRID_SUFFIX)


def step_grids(run: str | Path) -> list[tuple[int, Path]]:
    """(step, path) of the run's step grids (step_000100.png), oldest first."""
    found = []
    for p in samples_dir(run).glob(f"{STEP_PREFIX}*{GRID_SUFFIX}"):
        digits = p.stem[len(STEP_PREFIX) :]
        if digits.isdigit():
            found.append((int(digits), p))
    return sorted(found)


def all_checkpoints(folder: str | Path) -> list[Path]:
    """Every checkpoint file in ``folder`` (history and last), by name."""
    return sorted(Path(folder).glob(f"*{CHECKPOINT_SUFFIX}"))


def is_run(folder: str | Path) -> bool:
    """A folder that holds (part of) a run: its history, its info, checkpoints, grids or config."""
    folder = Path(folder)
    marks = (METRICS_CSV, RUN_INFO, CHECKPOINTS, SAMPLES)
    return any((folder / m).exists() for m in marks) or hydra_config(folder).exists()


# What marks a sweep's run folder: Hydra's record of its overrides.
SWEEP_RUN_MARK = f"{HYDRA}/{HYDRA_OVERRIDES}"


def sweep_runs(sweep_dir: str | Path) -> list[Path]:
    """The run folders of a multirun folder (those with .hydra/overrides.yaml), unordered."""
    return [p.parent.parent for p in Path(sweep_dir).glob(f"*/{SWEEP_RUN_MARK}")]


# ---- a study ------------------------------------------------------------------------------
def study_journal(study: str | Path) -> Path:
    return Path(study) / STUDY_JOURNAL


def study_lock(study: str | Path) -> Path:
    return Path(study) / STUDY_LOCK


def best_recipe(study: str | Path) -> Path:
    """<study>/experiment/best.yaml: the folder above it is a Hydra config search path in which
    ``experiment=best`` names it."""
    return Path(study) / EXPERIMENT_DIR / BEST_RECIPE


def trial_dir(study: str | Path, number: int) -> Path:
    return Path(study) / TRIALS / f"{number:04d}"


CONFIRM = "confirm"


def confirm_dir(study: str | Path, which: str, seed: int) -> Path:
    """<study>/confirm/<best|centre>_seed<k>/: a confirmation run (gan_lab.tune.confirm)."""
    return Path(study) / CONFIRM / f"{which}_seed{seed}"


def is_study(folder: str | Path) -> bool:
    return study_journal(folder).is_file()


def experiment_search_path(recipe: str | Path) -> tuple[Path, str] | None:
    """(search path, option) that make ``experiment=<option>`` read ``recipe``: a file in a folder
    named experiment/, or a study folder (its best recipe); None for anything else."""
    path = Path(recipe).expanduser()
    if path.is_dir() and best_recipe(path).is_file():
        path = best_recipe(path)
    if path.suffix != ".yaml" or not path.is_file() or path.parent.name != EXPERIMENT_DIR:
        return None
    return path.resolve().parent.parent, path.stem


# ---- best@ --------------------------------------------------------------------------------
def best_spec(run: str | Path) -> str:
    """``best@<run>``: how a tool's ckpt= names the checkpoint gan-lab score marked best."""
    return f"{BEST}{run}"


def parse_best(spec: str | Path) -> Path | None:
    """The run folder that ``best@<run>`` (or ``<run>/best``, when no such file exists) asks the
    best checkpoint of; None for a plain checkpoint path."""
    text = str(spec)
    if text.startswith(BEST):
        return Path(text[len(BEST) :])
    if Path(text).name == "best" and not Path(text).expanduser().exists():
        return Path(text).parent
    return None
