"""The keys of the tools beside training: gan-lab sample, preview, extractor, score and cost (their
conf/<command>.yaml; preview's and extractor's data.* keys are the train config's)."""

from gan_lab.config.schema.rules import (
    MAX_BATCH,
    MAX_GRID,
    MAX_IMAGE_SIZE,
    MAX_IMAGES,
    Rule,
    choice,
    flag,
    is_whole,
    number,
    path,
    text,
    whole,
)
from gan_lab.core.truncation import PSI_RANGE
from gan_lab.runs import layout

# Truncation ψ (gan_lab.core.truncation): sample's psi, the grids' and the score's ψ curve.
PSI = number("truncation ψ: z pulled toward the mean latent; 1 = off", *PSI_RANGE)
MAX_PSIS = 32  # ψ values of one curve: each costs a generated set through the extractor

# gan-lab sample (conf/sample.yaml)
SAMPLE = {
    "ckpt": path(f"a checkpoint written by train.py, or {layout.BEST}<run_dir>", null=False),
    "n": whole("images to write (per class, for a conditional generator)", low=1, high=MAX_IMAGES),
    "out_dir": path("where the PNG files go", null=False),
    "class": Rule(
        lambda v: (isinstance(v, str) and v != "") or (is_whole(v) and v >= 0),
        "all, a class index or a class name",
        "conditional generators: all classes, or one",
    ),
    "psi": PSI,
    "seed": whole("seeds the latent vectors", low=0),
    "batch_size": whole("images per forward pass", low=1, high=MAX_BATCH),
    "device": text("auto | cpu | cuda | cuda:1 ..."),
}

# gan-lab preview (conf/preview.yaml; its data.* keys are TRAIN's)
PREVIEW = {
    "preview.out_dir": path("null = outputs/preview/<data.name>/"),
    "preview.n": whole("images in the batch grid", low=1, high=MAX_GRID),
    "preview.augment_images": whole(
        "images shown through the augmentation pipeline", low=1, high=MAX_GRID
    ),
    "preview.augment_copies": whole("augmented versions of each", low=1, high=MAX_GRID),
    "preview.seed": whole("which images and which augmentations"),
}

# gan-lab extractor (conf/extractor.yaml; its data.* keys are TRAIN's)
EXTRACTOR = {
    "out": path("where the extractor file goes", null=False),
    "epochs": whole("passes over the training images", low=1),
    "batch_size": whole("images per step", low=1, high=MAX_BATCH),
    "lr": number("Adam learning rate", 0, low_open=True),
    "seed": whole("split and initialisation"),
    "name": text("metric label (val/fid_<name>); empty = the file's stem"),
    "augment": flag("train on the data group's augmentation too"),
    "holdout": number("share of images kept out of training", 0, 1, low_open=True, high_open=True),
}

# gan-lab score (conf/score.yaml): null = as in the run's own metrics config.
SCORE = {
    "run_dir": path("the output folder of a train.py run", null=False),
    "device": text("auto | cpu | cuda ..."),
    "extractor": text("inception | an extractor file", null=True),
    "n_samples": whole("generated images per checkpoint", low=2, high=MAX_IMAGES, null=True),
    "inception_weights": path("the Inception weights file"),
    "best": text("the metric that names the best checkpoint", null=True),
    "batch_size": whole(
        "images per forward pass of the extractor", low=1, high=MAX_BATCH, null=True
    ),
    "seed": whole("noise of the generated sets and the real subset", null=True),
    "psi_curve": Rule(
        lambda v: isinstance(v, list | tuple) and 0 < len(v) <= MAX_PSIS and all(map(PSI.ok, v)),
        f"a list of 1 to {MAX_PSIS} numbers in [{PSI_RANGE[0]:g}, {PSI_RANGE[1]:g}], "
        "e.g. [1.0,0.9,0.8,0.7,0.5]",
        "the best checkpoint's FD, precision and recall at each truncation ψ; null = off",
        null=True,
    ),
    "prdc_k": whole("k of precision/recall/density/coverage", low=1, high=100, null=True),
    "memorisation_n_train": whole(
        "training images searched for nearest ones; 0 = off", high=MAX_IMAGES, null=True
    ),
    "memorisation_line": number("the share of copies that flags a checkpoint", 0, 1, null=True),
    "class_fd_min": whole("per-class FD only for classes with this many images", low=2, null=True),
}

# gan-lab cost (conf/cost.yaml): the timed images are drawn at once (2·n of them).
COST = {
    "extractor": text("inception | path of a file from gan-lab extractor"),
    "n": whole("real and as many generated (random) images timed", low=1, high=MAX_GRID),
    "inception_weights": path("the Inception weights file; random = a random file of its format"),
    "image_size": whole("side of the timed images", low=16, high=MAX_IMAGE_SIZE),
    "channels": choice("1 or 3", (1, 3)),
}
