"""Quality per CPU-minute: train recipes for the same wall time on one core each, then score them.

    python benchmarks/small_data_study.py <extractor.pt> <out_dir> <minutes> <seed> <recipe>...

Each recipe is a name=override;override... pair, e.g. reference=experiment=reference.
Every run trains on the built-in set at 64×64 (2,048 images) for <minutes> minutes
(Lightning's max_time), with one torch thread; the final generator (EMA when the
recipe keeps one) is scored with the user-trained extractor on 500 samples: KID and FID
in that feature space. Runs of one call go in parallel, one per core.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from hydra.utils import instantiate

from gan_lab.metrics.extractors import load_extractor
from gan_lab.metrics.images import generate_unit, real_subset
from gan_lab.metrics.scorer import Scorer
from gan_lab.training.checkpoint import load_gan

ROOT = Path(__file__).resolve().parents[1]


def launch(name: str, overrides: list[str], out: Path, minutes: int, seed: int) -> subprocess.Popen:
    args = [
        sys.executable,
        "train.py",
        *overrides,
        "data.image_size=64",
        f"seed={seed}",
        "trainer.max_epochs=100000",
        f"+trainer.max_time=00:00:{minutes:02d}:00",
        "metrics=off",
        "trainer.enable_progress_bar=false",
        f"hydra.run.dir={out / f'{name}_seed{seed}'}",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )


def score(run: Path, extractor: str) -> dict:
    torch.set_num_threads(2)
    gan = load_gan(run / "checkpoints" / "last.ckpt")
    scorer = Scorer(load_extractor(extractor), 100, "cpu")
    dm = instantiate(gan.config["data"], _convert_="all")
    dm.load()
    scorer.add_real(real_subset(dm.images, 500, 0))
    fakes = generate_unit(gan.generator, gan.noise, 500, 0, 100, "cpu", gan.class_ids)
    return {"epochs": gan.epoch, **scorer.score(fakes)}


def main() -> None:
    extractor, out, minutes, seed = (
        sys.argv[1],
        Path(sys.argv[2]),
        int(sys.argv[3]),
        int(sys.argv[4]),
    )
    recipes = dict(r.split("=", 1) for r in sys.argv[5:])
    procs = {
        name: launch(name, spec.split(";") if spec else [], out, minutes, seed)
        for name, spec in recipes.items()
    }
    for p in procs.values():
        p.wait()
    for name in recipes:
        row = {"recipe": name, "seed": seed, **score(out / f"{name}_seed{seed}", extractor)}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
