"""gan-lab tune: find the best recipe for this set within a time budget (an Optuna study).

    gan-lab tune [data=... experiment=... any train key=value] [tune.budget=1h] [tune.slice=10m]
                 [tune_space=default|small | tune.space_file=<yaml>] [tune.extractor=<file.pt>]

The train arguments are the starting point: every trial is a real `gan-lab train` run of them
plus the trial's values, trained for one slice of wall time (tune.slice). The search space
(conf/tune_space/default.yaml: learning rates, betas, batch, widths, loss, EMA, ADA and its
target, R1, D steps, noise) is centred on that starting point: log_factor and scale knobs multiply
its values, choice knobs pick among values; the first trial is the starting point itself. Copy a
space file, edit it, and pass tune.space_file=<it>.

The budget is wall time for the whole study, not a trial count: no trial starts unless a whole
slice is left, so the study ends within the budget and keeps every finished trial. Each trial is
scored tune.reports times during its slice (FID or KID in the feature space of tune.extractor: a
classifier of your set from `gan-lab extractor`, or Inception), and Optuna's pruner (Hyperband by
default) stops the trials that are behind at a report.

The study lives in tune.dir (default outputs/tune/<data name>): study.journal (Optuna's journal,
safe on a shared file system), trials/<n>/ (each trial's run folder), experiment/best.yaml (the
best recipe: gan-lab train experiment=<tune.dir>/experiment/best.yaml) and report.html. The same
command continues a stopped or killed study (a larger tune.budget extends it); tune.workers=N runs
N workers here, and jobs on a cluster share it by running the same command with the same tune.dir.

Every trial runs on one seed, and the best is the best of many: tune.confirm_seeds=N re-trains
the best recipe and the centre on N fresh seeds each after the search (2·N slices beyond the
budget; on a cluster give it to one job, or run the command once more when the jobs are done)
and prints their difference with its 95 % interval (Welch), as the study page shows it.
"""

import subprocess
import sys
from pathlib import Path

from omegaconf import OmegaConf

from gan_lab.cli import meta_args
from gan_lab.config import CONF_DIR, compose
from gan_lab.config.schema import TUNE
from gan_lab.config.validate import check_config
from gan_lab.errors import UserError, friendly
from gan_lab.runs import layout
from gan_lab.tune import require_optuna

OWN = ("tune.", "tune_space=", "+tune.", "tune_space.")


def split(argv: list[str]) -> tuple[list[str], list[str]]:
    """(the study's own arguments, the train arguments every trial starts from)."""
    own = [a for a in argv if a.startswith(OWN)]
    return own, [a for a in argv if not a.startswith(OWN)]


def settings_of(tune) -> "Settings":  # noqa: F821
    from gan_lab.tune.study import Settings
    from gan_lab.tune.wall_time import parse_duration

    budget = parse_duration(tune.budget, "tune.budget")
    slice_s = parse_duration(tune.slice, "tune.slice")
    if slice_s > budget:
        raise UserError(
            f"tune.slice={tune.slice} is longer than tune.budget={tune.budget}: not one trial "
            "would fit. Give a budget of several slices (e.g. tune.budget=1h tune.slice=10m)."
        )
    return Settings(
        budget=budget,
        slice=slice_s,
        reports=tune.reports,
        pruner=tune.pruner,
        sampler=tune.sampler,
        metric=tune.metric,
        n_samples=tune.n_samples,
        seed=tune.seed,
        heartbeat=float(tune.heartbeat),
        extractor=str(tune.extractor),
    )


def space_entries(cfg) -> list:
    if cfg.tune.space_file:
        path = Path(cfg.tune.space_file).expanduser()
        if not path.is_file():
            raise UserError(
                f"tune.space_file={path} does not exist; copy conf/tune_space/default.yaml."
            )
        loaded = OmegaConf.to_container(OmegaConf.load(path))  # plain data: no interpolation here
        return (loaded or {}).get("params") if isinstance(loaded, dict) else None
    return OmegaConf.to_container(cfg.tune_space).get("params")


def _help() -> str:
    from gan_lab.cli import tool_help

    space = (CONF_DIR / "tune_space" / "default.yaml").read_text()
    return (
        f"{tool_help('tune', __doc__)}\n\nThe default search space (tune_space=default):\n\n{space}"
    )


@friendly
def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--help" in argv or "-h" in argv:
        print(_help())
        return
    own, train_args = split(argv)
    if meta_args(own, "tune", __doc__):  # --cfg job: the study's own settings
        return
    require_optuna()  # the tune extra: before anything is composed, loaded or started
    cfg = compose("tune", own)
    check_config(cfg, TUNE)
    settings = settings_of(cfg.tune)
    entries = space_entries(cfg)
    from gan_lab.tune.objective import Judge, load_judge_extractor
    from gan_lab.tune.space import centre, parse_space
    from gan_lab.tune.study import budget_args, run_worker

    base = compose("train", train_args, output_dir="unused", return_hydra_config=True)
    check_config(base)
    if not entries:  # before the set is loaded for the centre: a refusal costs nothing
        parse_space(entries, {})
    # What recipe=auto chooses for the set at a trial's budget (the batch and rates follow it).
    sliced = [*train_args, *budget_args(train_args, settings.slice)]
    centred = centre(compose("train", sliced, output_dir="unused", return_hydra_config=True))
    params = parse_space(entries, centred)
    study_dir = Path(cfg.tune.dir or Path("outputs") / "tune" / str(base.data.name)).absolute()
    extractor = load_judge_extractor(cfg.tune.extractor, base.metrics.get("inception_weights"))
    judge = Judge(extractor, settings.metric, settings.n_samples, settings.seed)
    helpers = []
    if cfg.tune.workers > 1:  # the others: the same command, one worker each, the same folder
        rest = [a for a in argv if not a.startswith(("tune.workers=", "tune.dir="))]
        command = [sys.executable, "-m", "gan_lab.cli.main", "tune", *rest]
        # This process confirms the best (below), once: the helpers only search.
        command += ["tune.workers=1", f"tune.dir={study_dir}", "tune.confirm_seeds=0"]
        helpers = [subprocess.Popen(command) for _ in range(cfg.tune.workers - 1)]
    seeds = cfg.tune.confirm_seeds
    cost = (
        f"; then the best and the centre on {seeds} fresh seeds each: {2 * seeds} slices "
        "beyond the budget (tune.confirm_seeds)"
        if seeds
        else ""
    )
    print(f"study: {study_dir} (budget {cfg.tune.budget}, slices of {cfg.tune.slice}{cost})")
    trial_config = lambda args, out: compose("train", args, output_dir=out)  # noqa: E731
    try:
        study = run_worker(study_dir, settings, train_args, params, centred, judge, trial_config)
    finally:
        for helper in helpers:
            helper.wait()
    from gan_lab.report.study import write_study_report
    from gan_lab.tune.confirm import ATTR, UNCONFIRMED, comparison, confirm

    if seeds:
        confirm(study, study_dir, seeds, judge, trial_config)
    report = write_study_report(study_dir)
    best = layout.best_recipe(study_dir)
    done = len([t for t in study.trials if t.state.name == "COMPLETE"])
    print(f"{done} finished trials; report: {report}")
    if best.is_file():
        print(f"best recipe: {best}\n  gan-lab train experiment={best}")
    said = comparison(study.user_attrs.get(ATTR))  # a record of an earlier session counts too
    print(said["line"] if said else UNCONFIRMED.format(done=done))


if __name__ == "__main__":
    main()
