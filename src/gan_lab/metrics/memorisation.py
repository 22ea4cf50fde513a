"""Does the generator copy its training images? Nearest training images in feature space.

A GAN trained long on few images can learn to redraw them: low FID, high precision, and nothing
new. For each generated image we find its nearest training image t in the metrics' feature space
and call the sample a *copy* when it lies closer to t than t's own nearest other training image
does (leave-one-out; the "authenticity" test of Alaa et al. 2022, "How Faithful is your Synthetic
Data?"). The score ``val/memorisation`` is the share of copies, in [0, 1]:

- a generator that outputs training images scores 1 (distance 0 to its nearest training image);
- a fresh image of the same distribution is about as likely to fall inside that radius as outside
  it: held-out real images score about 0.5 (0.45 on the 1,797 digits, 0.55–0.7 on sets of 40) —
  the floor ``val/memorisation_floor`` measures it for this set and feature space, each training
  image held out in turn (:meth:`Reference.floor`). A generator whose images are worse than the
  data's (farther from every training image) scores below the floor;
- ``metrics.memorisation_line`` (0.7; docs/scores.md says how it was calibrated) is where a run is
  flagged as memorising: far more of its samples hug a training image than fresh images do.

The radius is each training image's own, so the same rule holds in dense and sparse parts of the
set and in any feature space (Inception's 2,048 values or a small classifier's 128). The gallery
(``memorisation/epoch_NNNN.png`` and ``.csv``) shows the closest pairs with their pixel SSIM, so a
person can see whether "close" means "the same picture".
"""

import csv
import io
from pathlib import Path

import torch
from torchvision.utils import make_grid

from gan_lab.metrics.images import as_unit
from gan_lab.metrics.prdc import CHUNK
from gan_lab.metrics.similarity import paired_ssim
from gan_lab.runs import layout
from gan_lab.runs.safe_io import write_atomic, write_png

COPY_RADIUS = 1.0  # a copy lies within this share of its training image's leave-one-out radius
SHOWN_PAIRS = 16  # closest pairs in the gallery image (4 rows of 4 sample|training pairs)
CSV_FIELDS = ("rank", "sample", "train_index", "train_name", "distance", "ssim")


def nearest(x: torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(distance, index) of each row of ``x``'s nearest row of ``ref`` (Euclidean, float64)."""
    x, ref = x.double(), ref.double()
    dist = torch.empty(len(x), dtype=torch.float64, device=x.device)
    idx = torch.empty(len(x), dtype=torch.long, device=x.device)
    for start in range(0, len(x), CHUNK):
        d = torch.cdist(x[start : start + CHUNK], ref).min(dim=1)
        dist[start : start + len(d.values)], idx[start : start + len(d.values)] = d
    return dist, idx


def nearest_other(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(distance, index) of each row's nearest *other* row of ``x`` (leave-one-out) that differs
    from it: an exact duplicate in the training set (distance 0) would give its image a radius of
    0, inside which not even an exact copy lies."""
    x = x.double()
    dist = torch.empty(len(x), dtype=torch.float64, device=x.device)
    idx = torch.empty(len(x), dtype=torch.long, device=x.device)
    for start in range(0, len(x), CHUNK):
        d = torch.cdist(x[start : start + CHUNK], x)
        rows = torch.arange(len(d), device=x.device)
        d[rows, rows + start] = float("inf")  # not itself
        d[d == 0] = float("inf")  # nor its duplicates
        found = d.min(dim=1)
        dist[start : start + len(d)], idx[start : start + len(d)] = found
    return dist, idx


def above_line(score: float | None, line: float | None) -> bool:
    """The flag: a memorisation score strictly above ``metrics.memorisation_line`` (None: never).
    Training's warning, ``gan-lab score``'s ``memorising`` column and the report all ask here."""
    return line is not None and score is not None and score > line


class Reference:
    """The training images' features and their leave-one-out radii, computed once per run."""

    def __init__(self, train: torch.Tensor):
        if len(train) < 2:
            raise ValueError("the memorisation check needs at least two training images")
        self.train = train.double()
        self.radii, self.neighbour = nearest_other(self.train)

    def match(self, samples: torch.Tensor) -> dict:
        """Each sample's nearest training row, distance, and whether it is a copy."""
        dist, idx = nearest(samples, self.train)
        copy = dist < COPY_RADIUS * self.radii[idx]
        return {"distance": dist, "index": idx, "copy": copy, "score": float(copy.double().mean())}

    def floor(self) -> float:
        """The score of the training images themselves, each held out in turn and searched
        against all the others (leave-one-out): what fresh images of this set score.

        Held out, image h finds its nearest other image t; t's radius without h is its distance
        to its nearest image other than h. So h counts as a copy exactly when t's own nearest
        neighbour is h (h and t are each other's nearest): the floor is the share of training
        images in such mutual pairs. Unlike a held-out split, nothing thins the set: on a set of
        40 images a split into halves doubled the distances the rule compares (a floor of 0.45
        or 0.75 by the split), leave-one-out stayed within 0.1 of 300 truly fresh images."""
        mutual = self.neighbour[self.neighbour] == torch.arange(
            len(self.train), device=self.train.device
        )
        return float(mutual.double().mean())


def score(samples: torch.Tensor, train: torch.Tensor) -> float:
    """The share of ``samples`` that are copies of rows of ``train`` (module docstring)."""
    return Reference(train).match(samples)["score"]


def pairs(match: dict, samples: torch.Tensor, train_images: torch.Tensor, names) -> list[dict]:
    """The gallery's rows, closest first: ``train_images`` are the matched training images (one
    per sample, [0, 1] as ``samples``, or uint8 0–255); ``names[i]``: sample i's training
    image's index and name."""
    ssim = paired_ssim(samples, train_images)
    order = torch.argsort(match["distance"].cpu(), stable=True)
    return [
        {
            "rank": rank,
            "sample": int(i),
            "train_index": names[int(i)][0],
            "train_name": names[int(i)][1],
            "distance": float(match["distance"][i]),
            "ssim": float(ssim[i]),
        }
        for rank, i in enumerate(order.tolist(), start=1)
    ]


def write_gallery(
    run_dir: Path, epoch: int, rows: list[dict], samples: torch.Tensor, train_images: torch.Tensor
) -> None:
    """memorisation/epoch_NNNN.png (the closest pairs, sample left, training image right) and
    .csv (every sample, closest first), each written atomically into the run folder.
    ``train_images``: [0, 1], or uint8 0–255 (as the training set holds them)."""
    shown = [r["sample"] for r in rows[:SHOWN_PAIRS]]
    tiles = torch.stack([t for i in shown for t in (samples[i], as_unit(train_images[i]))])
    tiles = tiles.float().cpu()
    grid = make_grid(tiles, nrow=8, padding=2, pad_value=1.0)
    write_png(layout.memorisation_png(run_dir, epoch), grid, run_dir)
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "distance": f"{r['distance']:.6g}", "ssim": f"{r['ssim']:.4f}"})
    write_atomic(layout.memorisation_csv(run_dir, epoch), table.getvalue().encode(), run_dir)
