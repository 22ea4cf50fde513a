"""Measure what scoring costs on this machine (README "Scores").

python -m gan_lab.metrics.cost extractor=<inception|file.pt> [n=200] [inception_weights=<file|random>] [image_size=32] [channels=3]

Times ``Scorer.add_real`` + ``Scorer.score`` on n real and n generated (random) images and prints
seconds per 1,000 images. ``inception_weights=random`` writes a randomly initialised weights file of
the real format to a temporary folder: the same compute as the real network, no download.
"""

import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from gan_lab.errors import friendly
from gan_lab.metrics.extractors import INCEPTION_FILE, load_extractor
from gan_lab.metrics.scorer import Scorer
from gan_lab.sample import parse_args

DEFAULTS = {
    "extractor": "inception",
    "n": 200,
    "inception_weights": "",
    "image_size": 32,
    "channels": 3,
}


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


@friendly
def main(argv: list[str] | None = None) -> None:
    usage = __doc__.strip().splitlines()[2]
    args = parse_args(sys.argv[1:] if argv is None else argv, DEFAULTS, usage)
    with tempfile.TemporaryDirectory() as tmp:
        weights = args["inception_weights"] or None
        if weights == "random":
            weights = str(random_inception_weights(Path(tmp)))
        extractor = load_extractor(args["extractor"], weights)
        cost = seconds_per_1000(extractor, args["n"], args["image_size"], args["channels"])
    print(
        f"{args['extractor']}: {cost:.1f} s per 1,000 images ({2 * args['n']} images of "
        f"{args['channels']}×{args['image_size']}², {torch.get_num_threads()} threads)"
    )


if __name__ == "__main__":
    main()
