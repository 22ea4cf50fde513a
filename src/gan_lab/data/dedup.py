"""Near duplicates that are really the same picture (design §3.1).

A crawl repeats a picture re-encoded, rescaled, re-toned or shifted by a few pixels; a small set
of digits, icons or sprites holds many *different* pictures that merely look alike. A perceptual
hash alone cannot tell the two apart on small images (a 64-bit dHash called 74 % of scikit-learn's
1,797 distinct digits "near duplicates"), so the decision takes two steps:

1. **Candidates** without comparing all pairs: each image's 8×8 tone-normalised thumbnail gets a
   random-hyperplane signature (SimHash: the angle between two thumbnails sets how many bits
   differ) of 96 bands of 20 bits; images sharing any band are candidates, and those whose 8×8
   thumbnails correlate above 0.9 go on. A copy (correlation ≥ 0.93 measured, a 2-px shift of a
   sharp digit being the hardest case) shares a band with probability > 0.999; two unrelated
   images with ~10⁻⁴. Measured growth of the whole audit per ×10 images: ×6 to ×25
   (benchmarks/audit_scaling.py), not ×100.
2. **Confirmation at the pixel level** on 32×32 greyscale thumbnails: the second thumbnail's tones
   are mapped onto the first's (quantile matching: any monotone tone curve, gamma, brightness),
   the two are aligned within ±1 thumbnail pixel (±2 px at 64 px), and the pair is the same
   picture when no 4×4 block differs by more than ``max_distance`` (a share of the tone range).

Measured on the digits written as 64×64 PNGs: the closest *distinct* pair of a class scores 0.077,
JPEG re-encodes, rescales, gamma/brightness changes and 2-px shifts of a digit score ≤ 0.05; the
default threshold 0.06 sits between (docs/design.md, "design §3.1 Hygiene").
"""

import numpy as np
from tqdm import tqdm

THUMB = 32  # side of the stored greyscale thumbnail
COARSE = 8  # side of the candidate thumbnail (4×4 block means of the 32×32 one)
BANDS, BAND_BITS = 96, 20
BLOCK = 4  # side of the blocks whose mean difference is compared at the pixel level
SHIFT = 1  # alignment search, in thumbnail pixels
MIN_CORRELATION = 0.9  # of the 8×8 thumbnails: below it, no pixel check
CHUNK = 2048  # pairs checked at once
MAX_BUCKET = 64  # a band value shared by more images than this pairs each only with neighbours


def _coarse(thumbs: np.ndarray) -> np.ndarray:
    """(N, 32, 32) uint8 → (N, 64) zero-mean, unit-norm float32 vectors of 8×8 block means."""
    f = COARSE
    x = (
        thumbs.reshape(len(thumbs), f, THUMB // f, f, THUMB // f)
        .mean((2, 4))
        .reshape(len(thumbs), -1)
    )
    x = x - x.mean(1, keepdims=True)
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-6)).astype(np.float32)


def signatures(thumbs: np.ndarray) -> np.ndarray:
    """(N, BANDS) uint32 band values of each thumbnail's random-hyperplane signature."""
    planes = np.random.default_rng(0).standard_normal((COARSE * COARSE, BANDS * BAND_BITS))
    bits = (_coarse(thumbs) @ planes.astype(np.float32)) > 0
    weights = (1 << np.arange(BAND_BITS)).astype(np.uint32)
    return (bits.reshape(len(thumbs), BANDS, BAND_BITS) * weights).sum(-1, dtype=np.uint32)


def candidate_pairs(thumbs: np.ndarray) -> np.ndarray:
    """(P, 2) index pairs i < j that share a signature band: the only pairs confirmed."""
    if len(thumbs) < 2:
        return np.empty((0, 2), dtype=np.int64)
    sig = signatures(thumbs)
    found = []
    for band in range(BANDS):
        order = np.argsort(sig[:, band], kind="stable")
        values = sig[order, band]
        starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
        sizes = np.diff(np.r_[starts, len(values)])
        # Within a run of equal values, pair each image with the next ones (all of them for a
        # normal bucket; the next MAX_BUCKET for a huge one, e.g. thousands of blank images).
        run_end = np.repeat(starts + sizes, sizes)
        for offset in range(1, min(int(sizes.max()), MAX_BUCKET + 1)):
            idx = np.arange(len(values) - offset)
            ok = idx + offset < run_end[: len(idx)]
            found.append(np.stack([order[idx[ok]], order[idx[ok] + offset]], 1))
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    pairs = np.sort(np.concatenate(found), axis=1)
    return np.unique(pairs, axis=0)


def _match_tones(b: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Each row of b (P, n uint8) given a's values at the same rank, ties sharing their mean: the
    monotone tone curve that maps b onto a."""
    p, n = b.shape
    order = np.argsort(b, axis=1, kind="stable")
    ranked = np.empty((p, n), dtype=np.float32)
    np.put_along_axis(ranked, order, np.sort(a, axis=1).astype(np.float32), axis=1)
    keys = (np.arange(p)[:, None] * 256 + b).ravel()  # uint8 values: one bin per row and tone
    sums = np.bincount(keys, ranked.ravel(), minlength=p * 256)
    counts = np.maximum(np.bincount(keys, minlength=p * 256), 1)
    return (sums / counts)[keys].reshape(p, n).astype(np.float32)


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Largest 4×4-block mean difference of each pair of 32×32 uint8 thumbnails (P, 32, 32), after
    tone matching and the best alignment, as a share of the tone range: 0 for the same picture."""
    p, s, m = len(a), THUMB, SHIFT
    matched = _match_tones(b.reshape(p, -1), a.reshape(p, -1)).reshape(p, s, s) / 255.0
    core = a[:, m : s - m, m : s - m].astype(np.float32) / 255.0
    k = (s - 2 * m) // BLOCK * BLOCK
    best = np.full(p, np.inf, dtype=np.float32)
    for dy in range(-m, m + 1):
        for dx in range(-m, m + 1):
            diff = np.abs(matched[:, m + dy : s - m + dy, m + dx : s - m + dx] - core)[:, :k, :k]
            blocks = diff.reshape(p, k // BLOCK, BLOCK, k // BLOCK, BLOCK).mean((2, 4))
            best = np.minimum(best, blocks.max((1, 2)))
    return best


def same_pictures(thumbs: np.ndarray, max_distance: float) -> list[tuple[int, int, float]]:
    """(i, j, distance) for every pair i < j that is the same picture."""
    pairs = candidate_pairs(thumbs)
    if len(pairs) == 0:
        return []
    v = _coarse(thumbs)
    close = (v[pairs[:, 0]] * v[pairs[:, 1]]).sum(1) > MIN_CORRELATION
    pairs = pairs[close]
    found = []
    # An audit longer than a few seconds (a large, self-similar set) shows its progress.
    for start in tqdm(range(0, len(pairs), CHUNK), desc="audit", unit="chunk", delay=3.0):
        chunk = pairs[start : start + CHUNK]
        d = distances(thumbs[chunk[:, 0]], thumbs[chunk[:, 1]])
        found += [
            (int(i), int(j), float(x))
            for (i, j), x in zip(chunk, d, strict=True)
            if x <= max_distance
        ]
    return found
