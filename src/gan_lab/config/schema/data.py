"""The data group's keys (conf/data/*.yaml): where the images come from, their size and channels,
the batch, the augmentation, the audit of a folder and the decoded-set cache."""

from gan_lab.config.schema.rules import (
    MAX_BATCH,
    MAX_CLASSES,
    MAX_IMAGE_SIZE,
    MAX_IMAGES,
    Rule,
    choice,
    flag,
    number,
    path,
    size,
    target,
    text,
    whole,
)

DATA_SOURCES = ("builtin", "folder", "digits", "mnist")
# The image size's words, shared with the networks' image_size (gan_lab.config.schema.networks).
SIZE_WORDS = "in px; every network preset adapts its number of blocks to it"

DATA = {
    "data._target_": target("gan_lab.data.GANDataModule", "gan_lab.data.datamodule.GANDataModule"),
    "data.name": text("the set's name (messages, reports)"),
    "data.source": choice("where images come from", DATA_SOURCES),
    "data.root": path(
        "the data folder (data=folder: required; data=digits: where its PNGs are written "
        "once, null = under the cache)"
    ),
    "data.hint": text("what to do when the data are missing (messages)"),
    "data.image_size": whole(f"training image size {SIZE_WORDS}", low=16, high=MAX_IMAGE_SIZE),
    "data.channels": choice("1 (grey), 3 (RGB) or auto (grey when every image is)", (1, 3, "auto")),
    "data.batch_size": whole("real images per step (per device)", low=1, high=MAX_BATCH),
    "data.num_images": whole(
        "how many images to draw (built-in set; 0 = unused elsewhere)", high=MAX_IMAGES
    ),
    "data.seed": whole("the built-in set's drawing seed"),
    "data.classes": Rule(
        lambda v: (
            isinstance(v, list | tuple)
            and 0 < len(v) <= MAX_CLASSES
            and all(isinstance(c, int | str) and not isinstance(c, bool) for c in v)
        ),
        "a list of class names or indices, e.g. [circle,ring] or [0,3]",
        "train on these classes only; null = all",
        null=True,
    ),
    "data.augment.flip": flag("random horizontal flips"),
    "data.augment.zoom": number("zoom in by up to this fraction", 0, 1, high_open=True),
    "data.augment.rotate": number("rotate by up to ± this many degrees", 0, 180),
    "data.audit.min_size": whole(
        "images smaller than this (either side, px) are thumbnails", low=1
    ),
    "data.audit.near_duplicates": choice(
        "near-duplicate pictures: skip (train on one copy) or keep", ("skip", "keep")
    ),
    "data.audit.near_duplicate_distance": number(
        "the largest block difference of the same picture (0.06)", 0, 1, high_open=True
    ),
    "data.audit.max_aspect": number("wider/taller than this is reported", 1),
    "data.audit.max_skipped_share": number("the share of a set the audit may skip (1 = any)", 0, 1),
    "data.cache": flag("keep the decoded set in cache_dir: a second run starts in seconds"),
    "data.cache_dir": path("where decoded sets are kept; null = $XDG_CACHE_HOME/gan-lab"),
    "data.memory_budget": size("a decoded set larger than this is memory-mapped and streamed"),
    "data.audit_report": path("the audit's CSV of skipped or unusual files (in the run folder)"),
}
