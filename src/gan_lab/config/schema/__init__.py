"""Every user-facing key: its type, range or choices, and what it does, in one table.

The command line (train.py and every ``gan-lab <command>``) and the configs stored in checkpoints
are checked against the same table (gan_lab.config.validate); nothing else re-checks a value. Keys
are dotted paths; a key whose meaning depends on the preset (generator.*, discriminator.*,
noise.*) is described once for every preset that has it. The choices come from the code that acts
on them, so a new loss or activation needs no second edit here.

One module per group, so that a group's keys are read in one place: rules.py (what a key may hold,
the bounds), run.py (seed, resume, logger, paths, the groups), data.py, networks.py (generator,
discriminator, noise), model.py (the procedure), trainer.py, callbacks.py, metrics.py,
commands.py (sample, preview, extractor, score) and tune.py. This module assembles the train
config's table in the order of conf/train.yaml and marks the keys recipe=auto may leave at auto.
"""

from gan_lab.config.schema.callbacks import BALANCE_ACTIONS, CALLBACKS
from gan_lab.config.schema.commands import EXTRACTOR, PREVIEW, SAMPLE, SCORE
from gan_lab.config.schema.data import DATA, DATA_SOURCES
from gan_lab.config.schema.metrics import METRICS
from gan_lab.config.schema.model import COMPILE, MODEL, NONFINITE
from gan_lab.config.schema.networks import DISCRIMINATOR, GENERATOR, NOISE
from gan_lab.config.schema.rules import (
    BETAS,
    MAX_BATCH,
    MAX_BLOCKS,
    MAX_CLASSES,
    MAX_GRID,
    MAX_IMAGE_SIZE,
    MAX_IMAGES,
    MAX_KERNEL,
    MAX_WEIGHTS,
    MAX_WIDTH,
    Rule,
    choice,
    either,
    flag,
    is_number,
    number,
    path,
    shown,
    size,
    target,
    text,
    whole,
    wholes,
)
from gan_lab.config.schema.run import GROUPS, OUTPUT, RUN, SWEEP
from gan_lab.config.schema.trainer import PRECISIONS, TRAINER
from gan_lab.config.schema.tune import PRUNERS, SAMPLERS, TUNE

__all__ = [
    "BALANCE_ACTIONS",
    "BETAS",
    "COMPILE",
    "DATA_SOURCES",
    "EXTRACTOR",
    "GROUPS",
    "MAX_BATCH",
    "MAX_BLOCKS",
    "MAX_CLASSES",
    "MAX_GRID",
    "MAX_IMAGES",
    "MAX_IMAGE_SIZE",
    "MAX_KERNEL",
    "MAX_WEIGHTS",
    "MAX_WIDTH",
    "METRICS",
    "NONFINITE",
    "PRECISIONS",
    "PREVIEW",
    "PRUNERS",
    "RECIPE_KEYS",
    "SAMPLE",
    "SAMPLERS",
    "SCORE",
    "TRAIN",
    "TUNE",
    "Rule",
    "choice",
    "either",
    "flag",
    "is_number",
    "number",
    "path",
    "shown",
    "size",
    "target",
    "text",
    "whole",
    "wholes",
]

# The train config (conf/train.yaml), group by group; callbacks.metrics.* and metrics.* are the
# same rules (metrics.py).
TRAIN = {
    **RUN,
    **DATA,
    **GENERATOR,
    **DISCRIMINATOR,
    **NOISE,
    **MODEL,
    **TRAINER,
    **CALLBACKS,
    **METRICS,  # also gan-lab score's defaults
    **OUTPUT,
    **SWEEP,
}

# recipe=auto (gan_lab/training/recipe.py) leaves these at auto until the run knows its set,
# machine and budget; every other key must hold a value. A resolved config (a checkpoint's) has
# no auto left.
RECIPE_KEYS = (
    "generator.",
    "discriminator.",
    "data.batch_size",
    "data.augment.",
    "model.betas_",
    "model.lr_",
    "model.ema",
    "model.g_fakes",
    "model.class_loss",
    "model.ada.enabled",
    "model.ada.target",
    "model.freeze_d",
    "model.anchor_g",
)
for _key, _rule in list(TRAIN.items()):
    if _key.startswith(RECIPE_KEYS) and not _key.endswith("_target_"):
        TRAIN[_key] = Rule(
            lambda v, r=_rule: v == "auto" or r.ok(v),
            f"{_rule.what}, or auto (recipe=auto chooses)",
            _rule.meaning,
            _rule.null,
        )
