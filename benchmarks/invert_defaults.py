"""How well inversion settings recover targets G(z*) drawn by the generator itself.

    python benchmarks/invert_defaults.py <ckpt> [<ckpt> ...]

For 4 known vectors z* per checkpoint, prints the final MSE (on the [0, 1] scale) and
seconds of a few settings, among them 003's literal lr with one start and the defaults
of conf/invert.yaml. The inversion numbers of docs/latent.md come from this script.
"""

import sys
import time

import torch

from gan_lab.config import compose
from gan_lab.latent.inversion import invert
from gan_lab.latent.run import procedure
from gan_lab.training.checkpoint import load_gan

# Overrides of conf/invert.yaml (the defaults of invert.py).
SETTINGS = {
    "lr 0.01, 200 steps, 1 start": ["steps=200", "lr=0.01", "restarts=1"],
    "lr 0.001, 300 steps, 1 start": ["steps=300", "lr=0.001", "restarts=1"],
    "defaults (lr 0.001, 500 steps, 4 starts)": [],
}


def main(paths: list[str]) -> None:
    for path in paths:
        gan = load_gan(path)
        print(path)
        for name, overrides in SETTINGS.items():
            kwargs = procedure(compose("invert", overrides))
            cells = []
            for seed in (1, 2, 3, 4):
                torch.manual_seed(seed)
                z_star = gan.noise.sample(1, gan.generator.latent_dim)
                with torch.no_grad():
                    target = gan.generator(z_star)
                torch.manual_seed(0)
                t = time.perf_counter()
                result = invert(gan.generator, target, gan.noise, gan.value_range, **kwargs)
                cells.append(f"{result.mse:.1e} ({time.perf_counter() - t:.1f} s)")
            print(f"  {name:42s} " + "  ".join(cells))


if __name__ == "__main__":
    main(sys.argv[1:])
