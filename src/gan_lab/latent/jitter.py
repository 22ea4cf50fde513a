"""Random small changes of a latent vector and what they do to the image (invert.py mode=jitter).

000's report took its inverted vector, changed 10 coordinates chosen at random by ``randn · 0.1``
and looked at the image again: "random changes have no great effect; some difference can be
seen, but the images are very close". This is that experiment as a procedure: K variants of one
vector, each with ``coords`` random coordinates (000: 10; null = every one) changed by
``N(0, amount²)`` (000's randn · 0.1) or by ``U(−amount, amount)`` (every change within
±amount), drawn from their own seeded generator; the images are compared with the original's
pixel by pixel.
"""

import csv
import io
from pathlib import Path

import torch

from gan_lab.config.schema.rules import is_number, is_whole
from gan_lab.errors import UserError
from gan_lab.runs.safe_io import write_atomic

NOISE = ("normal", "uniform")
MAX_VARIANTS = 256  # one figure: more would not be looked at
COLUMNS = ("variant", "changed", "z_l2", "z_max_abs", "pixel_mse", "pixel_max_abs")


def check(jitter: dict, dim: int | None = None) -> None:
    """jitter.* before any work (``dim``: the generator's latent size, once it is loaded)."""
    n, amount, noise = jitter.get("n"), jitter.get("amount"), jitter.get("noise")
    coords, seed = jitter.get("coords"), jitter.get("seed")

    if not is_whole(n) or not 1 <= n <= MAX_VARIANTS:
        raise UserError(f"jitter.n must be a whole number from 1 to {MAX_VARIANTS}, not {n!r}.")
    if not is_number(amount) or amount < 0:
        raise UserError(f"jitter.amount must be a number ≥ 0 (000 used 0.1), not {amount!r}.")
    if noise not in NOISE:
        raise UserError(f"jitter.noise must be one of {', '.join(NOISE)}, not {noise!r}.")
    if coords is not None and (not is_whole(coords) or coords < 1):
        raise UserError(
            f"jitter.coords must be a whole number ≥ 1 (000 changed 10) or null (every "
            f"coordinate), not {coords!r}."
        )
    if dim is not None and coords is not None and coords > dim:
        raise UserError(
            f"jitter.coords={coords}, but this generator's latent vectors have {dim} "
            f"coordinates; use at most {dim}, or null for all of them."
        )
    if seed is not None and not is_whole(seed):
        raise UserError(f"jitter.seed must be a whole number or null, not {seed!r}.")


def variants(z: torch.Tensor, jitter: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(the K changed vectors (K, dim), their changes (K, dim)) of ``z`` (1, dim): each variant
    changes ``coords`` coordinates drawn without replacement (all when null), by ``amount`` ×
    a standard normal or a uniform in ±1. The draws come from a generator of their own
    (``jitter.seed``; null = a random one), on the CPU, so a seed gives the same changes on every
    device."""
    check(jitter, z.shape[-1])
    dim, k = z.shape[-1], jitter["n"]
    gen = torch.Generator()
    if jitter.get("seed") is None:
        gen.seed()
    else:
        gen.manual_seed(int(jitter["seed"]))
    if jitter["noise"] == "normal":
        noise = torch.randn(k, dim, generator=gen)
    else:
        noise = torch.rand(k, dim, generator=gen) * 2 - 1
    mask = torch.ones(k, dim)
    if jitter.get("coords") is not None and jitter["coords"] < dim:
        mask.zero_()
        for row in mask:
            row[torch.randperm(dim, generator=gen)[: jitter["coords"]]] = 1.0
    delta = (noise * mask * float(jitter["amount"])).to(z.device, z.dtype)
    return z.reshape(1, dim) + delta, delta


def distances(original: torch.Tensor, images: torch.Tensor) -> list[tuple[float, float]]:
    """(MSE, largest |difference|) of each image to ``original``, on the [0, 1] scale."""
    diff = (images - original[None]).flatten(1)
    return list(zip(diff.pow(2).mean(1).tolist(), diff.abs().amax(1).tolist(), strict=True))


def save_table(delta: torch.Tensor, pixels: list[tuple[float, float]], path: Path) -> Path:
    """One row per variant (0 = the original, unchanged): how many coordinates changed, the
    change's L2 norm and largest coordinate, and the image's MSE and largest pixel change."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerow([0, 0, 0, 0, 0, 0])
    for i, (d, (mse, top)) in enumerate(zip(delta.cpu(), pixels, strict=True), start=1):
        changed = int((d != 0).sum())
        cells = (d.norm().item(), d.abs().max().item(), mse, top)
        writer.writerow([i, changed, *(f"{v:.6g}" for v in cells)])
    return write_atomic(path, out.getvalue().encode())
