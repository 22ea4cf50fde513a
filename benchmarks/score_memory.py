"""Which part of ``gan-lab score`` takes the memory: the peak RSS of each stage of scoring a run's
last history checkpoint (benchmarks/README.md, "128 and 256 px", "Memory at the end of a 256-px
run"). Linux only: the peak (VmHWM) is reset before each stage through /proc/self/clear_refs.

    OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/score_memory.py <run folder> [key=value ...]

Scoring runs on the CPU whatever the machine has (gan-lab score's device=auto would take a GPU,
whose memory RSS does not show). The key=value arguments are gan-lab score's (extractor=...,
n_samples=...). Each line: the stage, its seconds, the RSS before it, its peak and the RSS after
it (GiB). The stages are those of ``score_run`` (gan_lab.metrics.scores) and of
``Truth.evaluate`` (gan_lab.metrics.truth), run one at a time; the last line is
``Truth.evaluate`` whole, as ``gan-lab score`` calls it. Writes the run's memorisation gallery of
that epoch, as ``gan-lab score`` does.
"""

import re
import sys
import time
from pathlib import Path

from gan_lab.metrics import scores
from gan_lab.metrics.prdc import prdc
from gan_lab.metrics.similarity import paired_ssim
from gan_lab.training.checkpoint import load_gan

GIB = 2**20  # /proc/self/status counts kB


def memory() -> tuple[float, float]:
    """(RSS, peak RSS since the last reset) in GiB."""
    status = Path("/proc/self/status").read_text()
    now, peak = (int(re.search(rf"{key}:\s+(\d+)", status)[1]) for key in ("VmRSS", "VmHWM"))
    return now / GIB, peak / GIB


class Stage:
    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        self.start, self.before = time.perf_counter(), memory()[0]

    def __exit__(self, *exc):
        now, peak = memory()
        seconds = time.perf_counter() - self.start
        print(
            f"{self.name:28s} {seconds:6.1f} s   before {self.before:5.2f}   "
            f"peak {peak:5.2f}   after {now:5.2f} GiB",
            flush=True,
        )


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    overrides = dict(a.removeprefix("metrics.").split("=", 1) for a in sys.argv[2:])
    with Stage("data, extractor, real side"):
        run_dir, files, cfg, dev, truth = scores.set_up(sys.argv[1], "cpu", overrides)
    with Stage("load the generator"):
        gan = load_gan(files[-1], dev)
    with Stage("generate"):
        fakes, asked = scores.samples_of(gan, cfg, dev)
    scorer = truth.scorer
    with Stage("features of the samples"):
        feats, logits = scorer.features(fakes, "generated images")
    with Stage("FD, KID, IS"):
        scorer.score_features(feats, logits)
    with Stage("PRDC"):
        prdc(truth.pool.scored, feats, truth.prdc_k)
    if truth.reference is not None:
        with Stage("memorisation neighbours"):
            match = truth.reference.match(feats)
        with Stage("gallery SSIM"):
            matched = truth.images[truth.pool.index[match["index"].cpu()]]
            paired_ssim(fakes, matched)
    with Stage("Truth.evaluate whole"):
        result = truth.evaluate(fakes, asked)
    with Stage("gallery files"):
        result.write_gallery(run_dir, gan.epoch)


if __name__ == "__main__":
    main()
