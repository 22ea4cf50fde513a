"""What the real-vs-real floor, PRDC, memorisation and the classes add to one evaluation
(docs/scores.md, "Every class", "What it costs").

    gan-lab extractor data=digits out=digits.pt
    OMP_NUM_THREADS=1 python benchmarks/truth_cost.py --extractor digits.pt [--data digits] [--repeats 3]

Per repeat, on the data group's images (the first 300 of a seeded order as the real subset, the
next 300 standing in for generated images): the plain ``Scorer`` (real features, then
``score``), and ``Truth`` — its first build (features of up to 2,000 training images, floors,
leave-one-out radii) with an empty cache, again from the cache, and ``evaluate`` on the same 300
images. The extra seconds an evaluation costs are ``evaluate`` minus ``score``.
"""

import argparse
import tempfile
import time

from gan_lab.config import registry
from gan_lab.metrics.classifier import data_config
from gan_lab.metrics.extractors import load_extractor
from gan_lab.metrics.images import real_subset
from gan_lab.metrics.scorer import Scorer
from gan_lab.metrics.truth import Truth


def timed(work):
    start = time.perf_counter()
    out = work()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extractor", required=True, help="a file from gan-lab extractor")
    parser.add_argument("--data", default="digits", help="a data group (data=<it>)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    dm = registry.build("data", data_config(args.data), value_range=(0.0, 1.0))
    dm.load()
    extractor = load_extractor(args.extractor)
    fakes = real_subset(dm.images, 600, 3)[300:]
    for _ in range(args.repeats):
        dm.cache_dir = tempfile.mkdtemp()  # an empty feature cache: the first build pays
        print(one_repeat(dm, extractor, fakes), flush=True)


def one_repeat(dm, extractor, fakes) -> str:
    plain = Scorer(extractor)
    t_real, _ = timed(lambda: plain.add_real(real_subset(dm.images, 300, 0)))
    t_plain, _ = timed(lambda: plain.score(fakes))
    t_first, truth = timed(lambda: Truth(Scorer(extractor), dm, 300))
    t_cached, _ = timed(lambda: Truth(Scorer(extractor), dm, 300))
    t_eval, _ = timed(lambda: truth.evaluate(fakes))
    return (
        f"plain: real features {t_real:.2f} s, score {t_plain:.2f} s | Truth: first "
        f"{t_first:.2f} s, cached {t_cached:.2f} s, evaluate {t_eval:.2f} s "
        f"({t_eval - t_plain:+.2f} s)"
    )


if __name__ == "__main__":
    main()
