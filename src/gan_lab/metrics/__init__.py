"""Scoring generated images: feature extractors (Inception, a user-trained classifier) and the
FID / KID / IS bookkeeping on top of torchmetrics."""

from gan_lab.metrics.extractors import load_extractor
from gan_lab.metrics.scorer import Scorer, frechet_distance

__all__ = ["Scorer", "frechet_distance", "load_extractor"]
