"""gan-lab tune: an Optuna study over the training recipe, within a wall-time budget.

    budget.py     durations, and the study's spent time over every worker's sessions
    space.py      the search space (conf/tune_space/), its centre, a trial's overrides
    objective.py  the trial's score in the set's feature space, reported at checkpoints
    study.py      the storage, the workers' loop, stale trials, the progress lines
    recipe.py     best.yaml: the best trial as an experiment preset for gan-lab train

The command-line layer is gan_lab.cli.tune; nothing here imports it.
"""

from gan_lab.errors import UserError

# The one place that says how to get Optuna: it is the `tune` extra, not a dependency, so that
# `pip install gan-lab` stays small for those who never tune (README "Set up", docs/index.md).
INSTALL_TUNE = 'pip install "gan-lab[tune]"'


def require_optuna(what: str = "gan-lab tune") -> None:
    """Import Optuna, or one paragraph (a UserError: exit 2) saying how to install it. Called
    first by gan-lab tune and by a study's report, so that nothing starts before it fails."""
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise UserError(
            f"{what} needs Optuna, which is not installed: it comes with the tune extra. "
            f'Install it with {INSTALL_TUNE} (in a checkout: pip install -e ".[tune]"; '
            "make install has it too), then run the same command again."
        ) from None
