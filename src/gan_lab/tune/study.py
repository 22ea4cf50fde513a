"""The study: Optuna's journal in the study folder, and the loop every worker runs.

Storage: Optuna's JournalStorage on a JournalFileBackend (one append-only file, <study>/
study.journal). Its lock is a symlink or an O_EXCL file, not fcntl, so it works for several
processes on one machine and for jobs on many machines that share a network file system (NFS,
Lustre, GPFS) — where SQLite's fcntl locks are unreliable and a database file can be corrupted.
A lock left by a killed writer expires after 30 s (Optuna's grace period).

Every worker runs the same loop: fail the trials whose worker is gone (and queue their parameters
again), stop when less than one slice of the budget is left, ask Optuna for a trial, train it with
its slice, tell Optuna its score (or that it was pruned or failed). The budget is wall time summed
over sessions (gan_lab.tune.wall_time); each worker records its session and, for its running trial,
a heartbeat every ``heartbeat`` seconds.
"""

import logging
import math
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import optuna
from omegaconf import DictConfig
from optuna.trial import TrialState

from gan_lab.errors import TrainingStopped, UserError
from gan_lab.hardware import out_of_memory
from gan_lab.progress import progress
from gan_lab.runs import layout, lock
from gan_lab.tune.best_recipe import write_best
from gan_lab.tune.objective import Judge, TrialReporter
from gan_lab.tune.space import Param, centre_params, overrides, suggest
from gan_lab.tune.wall_time import lightning_time, shown_duration, spent

STUDY_NAME = "tune"
SESSION = "session:"  # study attribute per worker session: [start, last sign of life] (epoch s)
# What every trial adds to the study's arguments: the study's own score replaces the training
# metrics and the run's report (the study page shows the trials); the slice bounds the time.
TRIAL_ARGS = (
    "metrics=off",
    "callbacks.report=null",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
)
FAILURES_IN_A_ROW = 3  # trials refused by the config in a row: the study's arguments are at fault
# trials in a row that ran out of the device's memory: the study's arguments are too big here (a
# space whose larger choices do not fit fails some trials, and goes on)
TOO_BIG_IN_A_ROW = 5


@dataclass(frozen=True)
class Settings:
    budget: float  # seconds
    slice: float  # seconds
    reports: int
    pruner: str
    sampler: str
    metric: str
    n_samples: int
    seed: int
    heartbeat: float
    extractor: str

    def fingerprint(self) -> dict:
        """What must not change while a study continues (the budget may: a larger one extends it)."""
        return {k: v for k, v in asdict(self).items() if k not in ("budget", "heartbeat")}


def storage(study_dir: Path) -> optuna.storages.JournalStorage:
    from optuna.storages.journal import JournalFileBackend

    study_dir.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(layout.study_journal(study_dir))))


def pruner(settings: Settings) -> optuna.pruners.BasePruner:
    n = settings.reports
    if settings.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=n, reduction_factor=3)
    if settings.pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if settings.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    return optuna.pruners.NopPruner()


def sampler(settings: Settings) -> optuna.samplers.BaseSampler:
    if settings.sampler == "random":
        return optuna.samplers.RandomSampler(seed=settings.seed)
    # Each worker its own stream: two workers started together must not propose the same trial.
    return optuna.samplers.TPESampler(seed=settings.seed + os.getpid(), n_startup_trials=5)


@contextmanager
def study_lock(study_dir: Path):
    """One worker at a time changes the bookkeeping (creation, stale trials, best.yaml); the
    others wait (gan_lab.runs.lock: flock, or msvcrt on Windows)."""
    study_dir.mkdir(parents=True, exist_ok=True)
    with lock.hold(layout.study_lock(study_dir), advice="or put tune.dir on a local disk"):
        yield


def open_study(
    study_dir: Path, settings: Settings, args: list[str], params: list[Param], centred: dict
) -> optuna.Study:
    """Create the study (its first trial: the centre) or continue it; a study started with other
    arguments, another space or other settings is refused (its trials would not compare)."""
    record = {
        "args": list(args),
        "space": [asdict(p) | {"keys": list(p.keys), "values": list(p.values)} for p in params],
        "settings": settings.fingerprint(),
    }
    with study_lock(study_dir):
        study = optuna.create_study(
            storage=storage(study_dir),
            study_name=STUDY_NAME,
            direction="minimize",
            sampler=sampler(settings),
            pruner=pruner(settings),
            load_if_exists=True,
        )
        attrs = study.user_attrs
        if "record" not in attrs:
            for key, value in record.items():
                study.set_user_attr(key, value)
            study.set_user_attr("record", True)
            study.enqueue_trial(centre_params(params, centred), user_attrs={"centre": True})
        else:
            changed = [k for k, v in record.items() if attrs.get(k) != v]
            if changed:
                raise UserError(
                    f"the study in {study_dir} was started with other {' and '.join(changed)} "
                    f"({_differences(attrs, record, changed)}); its trials would not compare with "
                    "new ones. Repeat the first command's arguments (only tune.budget, "
                    "tune.heartbeat and tune.workers may change), or start a new study with "
                    "tune.dir=<another folder>."
                )
    return study


def _differences(old: dict, new: dict, keys: list[str]) -> str:
    out = []
    for key in keys:
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += [f"{k}: {a.get(k)!r} → {b.get(k)!r}" for k in {*a, *b} if a.get(k) != b.get(k)]
        elif isinstance(a, list) and isinstance(b, list) and key == "args":
            out.append(f"then {' '.join(a) or 'none'}, now {' '.join(b) or 'none'}")
        else:
            out.append(f"{key} differs")
    return "; ".join(out)


def spent_by(study: optuna.Study, own: tuple[float, float] | None = None) -> float:
    sessions = [tuple(v) for k, v in study.user_attrs.items() if k.startswith(SESSION)]
    return spent(sessions + ([own] if own else []))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(study: optuna.Study, study_dir: Path, heartbeat: float) -> list[int]:
    """Fail the running trials whose worker is gone — a dead process on this machine, or no sign
    of life for three heartbeats — and queue their parameters again; returns their numbers."""
    host, now, grace = socket.gethostname(), time.time(), 3 * heartbeat + 10
    failed = []
    with study_lock(study_dir):
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            worker = t.user_attrs.get("worker") or {}
            started = t.datetime_start.timestamp() if t.datetime_start else now
            last = t.user_attrs.get("heartbeat", started)
            gone = worker.get("host") == host and not _alive(int(worker.get("pid", -1)))
            if not (gone or now - last > grace):
                continue
            study._storage.set_trial_user_attr(t._trial_id, "note", "its worker stopped")
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
            again = {k: t.user_attrs[k] for k in ("centre",) if k in t.user_attrs}
            study.enqueue_trial(t.params, user_attrs={**again, "retry_of": t.number})
            failed.append(t.number)
    return failed


class Heartbeat:
    """This worker's session (for the budget) and its running trial's sign of life."""

    def __init__(self, study: optuna.Study, every: float):
        self.study, self.every = study, every
        self.start = time.time()
        self.key = f"{SESSION}{socket.gethostname()}:{os.getpid()}:{self.start:.3f}"
        self.trial_id: int | None = None
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def beat(self) -> None:
        now = time.time()
        with self.lock:
            self.study.set_user_attr(self.key, [self.start, now])
            if self.trial_id is not None:
                self.study._storage.set_trial_user_attr(self.trial_id, "heartbeat", now)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.beat()
            except Exception as err:  # noqa: BLE001 — a busy file system: the next beat retries
                logging.getLogger(__name__).warning("heartbeat not written: %s", err)

    def __enter__(self) -> "Heartbeat":
        self.beat()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.beat()

    @property
    def own(self) -> tuple[float, float]:
        return (self.start, time.time())


def describe(values: dict) -> str:
    return " ".join(f"{k.split('.')[-1]}={v}" for k, v in values.items())


def best_line(study: optuna.Study, name: str) -> str:
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not done:
        return ""
    best = min(done, key=lambda t: t.value)
    return f"(best {name} {best.value:.4g}, trial {best.number})"


def budget_args(args: list[str], slice_seconds: float) -> list[str]:
    """The budget of every trial (and of the centre recipe=auto chooses for): the slice as
    trainer.max_time, and no epoch limit unless the study's arguments set one."""
    epochs = (
        []
        if any(a.startswith("trainer.max_epochs=") for a in args)
        else [
            "trainer.max_epochs=1000000"  # the slice ends the trial, not an epoch count
        ]
    )
    return [*epochs, f"++trainer.max_time={lightning_time(slice_seconds)}"]


def run_worker(
    study_dir: Path,
    settings: Settings,
    args: list[str],
    params: list[Param],
    centred: dict,
    judge: Judge,
    compose_trial: Callable[[list[str], Path], DictConfig],
) -> optuna.Study:
    """One worker's share of the study, until less than a slice of the budget is left."""
    from gan_lab.training.train import train

    for name in ("lightning.pytorch", "lightning.fabric"):  # "GPU available: ..." per trial
        logging.getLogger(name).setLevel(logging.WARNING)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the trial lines say it once
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
    study = open_study(study_dir, settings, args, params, centred)
    if study.user_attrs.get("objective") != judge.name:
        study.set_user_attr("objective", judge.name)  # the study page's name for the score
    refused = too_big = 0
    with (
        Heartbeat(study, settings.heartbeat) as heart,
        progress(total=int(settings.budget), desc="study budget", unit="s") as bar,
    ):

        def tick() -> None:
            bar.n = min(int(spent_by(study, heart.own)), bar.total)
            bar.refresh()

        while True:
            for number in recover(study, study_dir, settings.heartbeat):
                bar.write(f"trial {number}: its worker stopped; its parameters are queued again")
            left = settings.budget - spent_by(study, heart.own)
            tick()
            if left < settings.slice:
                break
            trial = study.ask()
            values = suggest(trial, params, centred)
            trial_args = overrides(values)
            for key, value in (
                ("worker", {"host": socket.gethostname(), "pid": os.getpid()}),
                ("args", trial_args),
            ):
                trial.set_user_attr(key, value)
            with heart.lock:
                heart.trial_id = trial._trial_id
            run_dir = layout.trial_dir(study_dir, trial.number)
            budget = budget_args(args, settings.slice)
            reporter = TrialReporter(
                judge, trial, settings.slice, settings.reports, time.time() + left, tick
            )
            t0, note, oom = time.monotonic(), "", False
            try:
                cfg = compose_trial([*args, *TRIAL_ARGS, *budget, *trial_args], run_dir)
                train(cfg, callbacks=[reporter])
            except BaseException as err:
                # A refused config or a trial too big for the device (CUDA's or the CPU's
                # out-of-memory error) fails that trial and the study goes on; anything else (a
                # bug, Ctrl-C) ends this worker with the trial marked failed.
                if not (isinstance(err, UserError) or out_of_memory(err)):
                    with heart.lock:
                        heart.trial_id = None
                    study.tell(trial, state=TrialState.FAIL)
                    raise
                note, oom = str(err).strip().splitlines()[0], not isinstance(err, UserError)
                refused += isinstance(err, UserError) and not isinstance(err, TrainingStopped)
            too_big = too_big + 1 if oom else 0
            seconds = time.monotonic() - t0
            with heart.lock:
                heart.trial_id = None
            trial.set_user_attr("seconds", seconds)
            trial.set_user_attr("keep", [*args, *budget, *trial_args])
            value = reporter.value
            shown = f"{judge.name} {value:.4g}" if value is not None else ""
            if note:
                trial.set_user_attr("note", note)
                study.tell(trial, state=TrialState.FAIL)
                line = f"failed: {note}"
            elif reporter.pruned or reporter.cut:
                why = "the budget ended" if reporter.cut else "behind the others"
                trial.set_user_attr("note", f"pruned at {reporter.step}/{settings.reports}: {why}")
                study.tell(trial, state=TrialState.PRUNED)
                line = f"pruned at {reporter.step}/{settings.reports} ({why}) {shown}"
                refused = 0
            elif value is None or not math.isfinite(value):
                trial.set_user_attr("note", f"{judge.name} is not finite")
                study.tell(trial, state=TrialState.FAIL)
                line = f"failed: {judge.name} is not finite"
            else:
                study.tell(trial, value)
                line = shown
                refused = 0
            bar.write(
                f"trial {trial.number}: {line} in {shown_duration(seconds)} {best_line(study, judge.name)}"
                f"  {describe(values)}"
            )
            if value is not None and not note:
                update_best(study, study_dir, settings, judge.name)
            if refused >= FAILURES_IN_A_ROW:
                raise UserError(
                    f"{refused} trials in a row were refused ({note}); the study stopped. Fix the "
                    "study's arguments or the search space, then run the same command again."
                )
            if too_big >= TOO_BIG_IN_A_ROW:
                raise UserError(
                    f"{too_big} trials in a row ran out of the device's memory ({note}); the study "
                    "stopped. Make the trials smaller (data.batch_size, the networks' widths, "
                    "data.image_size, or the search space's largest choices), then run the same "
                    "command again."
                )
        tick()
    return study


def update_best(study: optuna.Study, study_dir: Path, settings: Settings, name: str) -> None:
    """best.yaml follows the best finished trial (rewritten by whichever worker finds a new one)."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not done:
        return
    best = min(done, key=lambda t: t.value)
    header = (
        f"Written by gan-lab tune: trial {best.number} of {study_dir}, the best of "
        f"{len(done)} finished trials: {name} {best.value:.5g} after "
        f"{shown_duration(settings.slice)} of training.\n"
        "Train it again: gan-lab train experiment=<this file> (trainer.max_time=... for longer)."
    )
    with study_lock(study_dir):
        write_best(study_dir, list(best.user_attrs["keep"]), header)
