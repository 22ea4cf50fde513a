"""Measure what scoring costs on this machine (docs/scores.md).

gan-lab cost extractor=<inception|file.pt> [n=200] [inception_weights=<file|random>] [image_size=32] [channels=3]

Times ``Scorer.add_real`` + ``Scorer.score`` on n real and n generated (random) images and prints
seconds per 1,000 images. ``inception_weights=random`` writes a randomly initialised weights file of
the real format to a temporary folder: the same compute as the real network, no download.
"""

import tempfile
from pathlib import Path

import torch
from omegaconf import DictConfig

from gan_lab.cli import command
from gan_lab.config.schema.commands import COST
from gan_lab.config.validate import check_config
from gan_lab.errors import MAX_ELEMENTS, UserError
from gan_lab.metrics.cost import random_inception_weights, seconds_per_1000
from gan_lab.metrics.extractors import load_extractor

USAGE = __doc__.strip().splitlines()[2]


@command("cost", USAGE)
def main(cfg: DictConfig) -> None:
    check_config(cfg, COST)
    if 2 * cfg.n * cfg.channels * cfg.image_size**2 > MAX_ELEMENTS:
        raise UserError(
            f"n={cfg.n} images of {cfg.channels}×{cfg.image_size}² (twice: real and generated) "
            f"are over the {MAX_ELEMENTS:,} values gan-lab draws at once; lower n or image_size."
        )
    with tempfile.TemporaryDirectory() as tmp:
        weights = cfg.inception_weights or None
        if weights == "random":
            weights = str(random_inception_weights(Path(tmp)))
        extractor = load_extractor(cfg.extractor, weights)
        cost = seconds_per_1000(extractor, cfg.n, cfg.image_size, cfg.channels)
    print(
        f"{cfg.extractor}: {cost:.1f} s per 1,000 images ({2 * cfg.n} images of "
        f"{cfg.channels}×{cfg.image_size}², {torch.get_num_threads()} threads)"
    )
