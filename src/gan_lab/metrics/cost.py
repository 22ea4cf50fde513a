"""Measure what scoring costs on this machine (README "Scores").

python -m gan_lab.metrics.cost extractor=<inception|file.pt> [n=200] [inception_weights=<file|random>] [image_size=32] [channels=3]

Times ``Scorer.add_real`` + ``Scorer.score`` on n real and n generated (random) images and prints
seconds per 1,000 images. ``inception_weights=random`` writes a randomly initialised weights file of
the real format to a temporary folder: the same compute as the real network, no download.
"""

import tempfile
import time
from pathlib import Path

import torch
from omegaconf import DictConfig
from torch import nn

from gan_lab.cli import command
from gan_lab.metrics.extractors import INCEPTION_FILE, load_extractor
from gan_lab.metrics.scorer import Scorer

USAGE = __doc__.strip().splitlines()[2]


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


@command("cost", USAGE)
def main(cfg: DictConfig) -> None:
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


if __name__ == "__main__":
    main()
