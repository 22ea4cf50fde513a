"""gan-lab tune: an Optuna study over the training recipe, within a wall-time budget.

    budget.py     durations, and the study's spent time over every worker's sessions
    space.py      the search space (conf/tune_space/), its centre, a trial's overrides
    objective.py  the trial's score in the set's feature space, reported at checkpoints
    study.py      the storage, the workers' loop, stale trials, the progress lines
    recipe.py     best.yaml: the best trial as an experiment preset for gan-lab train

The command-line layer is gan_lab.cli.tune; nothing here imports it.
"""
