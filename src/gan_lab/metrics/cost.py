"""What scoring costs on this machine (docs/scores.md; ``gan-lab cost`` prints it).

:func:`seconds_per_1000` times ``Scorer.add_real`` + ``Scorer.score`` on n real and n generated
(random) images. :func:`random_inception_weights` writes a randomly initialised weights file of the
real format: the same compute as the real network, no download.
"""

import time
from pathlib import Path

import torch
from torch import nn

from gan_lab.metrics.extractors import INCEPTION_FILE
from gan_lab.metrics.scorer import Scorer


def random_inception_weights(folder: Path) -> Path:
    """torch-fidelity's Inception, randomly initialised, saved as its weights file would be."""
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    keep = fe.load_state_dict_from_url, fe.FeatureExtractorInceptionV3.load_state_dict
    fe.load_state_dict_from_url = lambda *a, **k: None  # skip the download and the loading
    fe.FeatureExtractorInceptionV3.load_state_dict = lambda self, state: None
    try:
        net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    finally:
        fe.load_state_dict_from_url, fe.FeatureExtractorInceptionV3.load_state_dict = keep
    path = folder / INCEPTION_FILE
    torch.save(nn.Module.state_dict(net), path)
    return path


def seconds_per_1000(extractor: nn.Module, n: int, image_size: int, channels: int) -> float:
    scorer = Scorer(extractor, batch_size=50)
    images = torch.rand(2 * n, channels, image_size, image_size)
    start = time.perf_counter()
    scorer.add_real(images[:n])
    scorer.score(images[n:])
    return (time.perf_counter() - start) / (2 * n) * 1000
