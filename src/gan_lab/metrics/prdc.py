"""Precision, recall, density and coverage of a generated set (Naeem et al. 2020, "Reliable
Fidelity and Diversity Metrics for Generative Models").

FID mixes quality and diversity into one number; these four split them. Each real (generated)
image gets a ball in feature space whose radius is the distance to its k-th nearest other real
(generated) image:

- precision: the share of generated images inside at least one real ball (quality);
- recall: the share of real images inside at least one generated ball (diversity);
- density: how many real balls a generated image lies in, on average, divided by k (≈ 1 for a
  generator that matches the data; above 1 when samples crowd where the data is densest);
- coverage: the share of real images whose ball holds at least one generated image (diversity,
  robust to outliers among the samples: what recall should have been).

A generator that draws one image over and over has recall ≈ 0 and coverage ≈ 1/n. Distances are
Euclidean in float64, computed a block of rows at a time, so a few thousand × a few thousand
features never need the whole matrix at once.
"""

import torch

CHUNK = 512  # rows of the distance matrix held at once (512 × 5,000 float64 = 20 MB)


def _rows(a: torch.Tensor, b: torch.Tensor):
    """(start, distances of a[start:start+CHUNK] to every row of b), float64."""
    for start in range(0, len(a), CHUNK):
        yield start, torch.cdist(a[start : start + CHUNK], b)


def knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Each row's distance to its k-th nearest *other* row (its own zero distance left out)."""
    x = x.double()
    if len(x) <= k:
        raise ValueError(f"k={k} nearest neighbours need more than {k} points, got {len(x)}")
    out = torch.empty(len(x), dtype=torch.float64, device=x.device)
    for start, d in _rows(x, x):
        out[start : start + len(d)] = d.kthvalue(k + 1, dim=1).values  # 1st is the row itself
    return out


def prdc(real: torch.Tensor, fake: torch.Tensor, k: int = 5) -> dict[str, float]:
    """precision, recall, density and coverage of ``fake`` against ``real`` (N×D and M×D
    features), with k-nearest-neighbour radii (the paper's k = 5)."""
    real, fake = real.double(), fake.double()
    r_real, r_fake = knn_radii(real, k), knn_radii(fake, k)
    in_real_balls = torch.zeros(len(fake), dtype=torch.float64, device=fake.device)
    nearest_fake = torch.empty(len(real), dtype=torch.float64, device=real.device)
    for start, d in _rows(fake, real):  # fake rows × real columns
        in_real_balls[start : start + len(d)] = (d <= r_real).sum(dim=1).double()
    recalled = torch.zeros(len(real), dtype=torch.bool, device=real.device)
    for start, d in _rows(real, fake):  # real rows × fake columns
        rows = slice(start, start + len(d))
        recalled[rows] = (d <= r_fake).any(dim=1)
        nearest_fake[rows] = d.min(dim=1).values
    return {
        "precision": float((in_real_balls > 0).double().mean()),
        "recall": float(recalled.double().mean()),
        "density": float(in_real_balls.sum() / (k * len(fake))),
        "coverage": float((nearest_fake <= r_real).double().mean()),
    }
