"""The metrics group's keys (conf/metrics/): FID/KID/IS and SSIM during training, and the defaults
of gan-lab score; callbacks.metrics reads the same rules (gan_lab.config.schema.callbacks)."""

from gan_lab.config.schema.rules import (
    MAX_BATCH,
    MAX_GRID,
    MAX_IMAGES,
    flag,
    number,
    path,
    text,
    whole,
)

METRICS = {
    "metrics.every_n_epochs": whole("FID/KID/IS every N epochs and at the end; 0 = off"),
    "metrics.n_samples": whole("generated images per evaluation", low=2, high=MAX_IMAGES),
    "metrics.extractor": text("inception, or an extractor file (gan-lab extractor)"),
    "metrics.inception_weights": path("torch-fidelity's Inception weights; null = the hub cache"),
    "metrics.required": flag("stop at start-up when the extractor cannot be loaded"),
    "metrics.batch_size": whole("images per extractor pass", low=1, high=MAX_BATCH),
    "metrics.seed": whole("noise and real subset: the same at every evaluation"),
    "metrics.ssim_every_n_steps": whole("SSIM every M batches; 0 = off"),
    "metrics.ssim_n_real": whole(
        "training images each sample is compared with", low=1, high=MAX_GRID
    ),
    "metrics.ssim_n_fake": whole("fixed-noise samples averaged", low=1, high=MAX_GRID),
    "metrics.best": text("what gan-lab score ranks checkpoints by, e.g. val/fid"),
    "metrics.prdc_k": whole("k of precision/recall/density/coverage", low=1, high=100),
    "metrics.memorisation_n_train": whole(
        "training images searched for each sample's nearest; 0 = off", high=MAX_IMAGES
    ),
    "metrics.memorisation_line": number(
        "flag a run as memorising above this share of copies; null = never", 0, 1, null=True
    ),
    "metrics.class_fd_min": whole("per-class FD only for classes with this many images", low=2),
}
# The keys of callbacks.metrics (conf/callbacks/default.yaml), each ${metrics.<key>}.
METRICS_CALLBACK_KEYS = (
    "every_n_epochs",
    "n_samples",
    "extractor",
    "inception_weights",
    "required",
    "batch_size",
    "seed",
    "prdc_k",
    "memorisation_n_train",
    "memorisation_line",
    "class_fd_min",
)
