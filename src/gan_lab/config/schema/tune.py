"""gan-lab tune's keys (conf/tune.yaml, conf/tune_space/): the budget, the slices, the pruner and
sampler, the objective, the workers and the search space's file."""

from gan_lab.config.schema.rules import MAX_IMAGES, Rule, choice, number, path, text, whole

PRUNERS = ("hyperband", "halving", "median", "none")  # gan_lab.tune.study builds them by name
SAMPLERS = ("tpe", "random")


# gan-lab tune (conf/tune.yaml and conf/tune_space/); a duration is checked by gan_lab.tune.wall_time,
# each entry of the space by gan_lab.tune.space (their messages name the entry).
TUNE = {
    "tune.budget": Rule(
        lambda v: isinstance(v, str | int | float) and not isinstance(v, bool),
        "a duration, e.g. 90m, 1h30m, 8h or a number of seconds",
        "wall time of the whole study",
    ),
    "tune.slice": Rule(
        lambda v: isinstance(v, str | int | float) and not isinstance(v, bool),
        "a duration, e.g. 10m or a number of seconds",
        "training time of one trial",
    ),
    "tune.reports": whole("scores per trial; the pruner acts at each", low=1),
    "tune.pruner": choice("what stops trials that are behind", PRUNERS),
    "tune.sampler": choice("how the next trial is chosen", SAMPLERS),
    "tune.metric": choice("the objective, lower is better", ("fid", "kid")),
    "tune.extractor": text("auto | inception | a file from gan-lab extractor"),
    "tune.n_samples": whole("generated images per score", low=2, high=MAX_IMAGES),
    "tune.seed": whole("noise of the scored images, the real subset, the sampler"),
    "tune.dir": path("the study's folder; null = outputs/tune/<data.name>"),
    "tune.workers": whole("worker processes on this machine", low=1),
    "tune.heartbeat": number("seconds between a worker's signs of life", 1),
    "tune.space_file": path("a YAML file with a params: list"),
    "tune.confirm_seeds": whole(
        "after the search: best and centre re-trained on N fresh seeds each; 0 = off",
        low=0,
        high=100,
    ),
    "tune_space.params": Rule(
        lambda v: isinstance(v, list | tuple) and len(v) > 0,
        "a list of one or more entries ({key: ..., kind: ...})",
        "the search space",
    ),
}
