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
2. **Confirmation at the pixel level** on 32×32 greyscale thumbnails, both ways (a copy matches
   its original and back). The second thumbnail is aligned to the first by scale (±8 %) and shift
   (±1.5 thumbnail pixels) on each axis: a guess from the column and row sums, refined by the
   correlation of the whole picture, and no warp at all, whichever fits best; its tones are then
   mapped onto the first's (quantile matching: any monotone tone curve, gamma, brightness), and
   the pair is the same picture when no 4×4 block differs by more than ``max_distance`` **of the
   first picture's own tone range** (1st to 99th percentile): a smooth picture whose tones span a
   tenth of 0–255 is not "close" to another because all its differences are small in 0–255.

Measured on the digits written as 64×64 PNGs with 15 planted copies of each kind: JPEG
re-encodes, ×0.9/×1.1 rescales, gamma, ×1.2 brightness and 2-px crops resized back score ≤ 0.055;
the closest distinct pair of a class 0.064 (two near-identical "1"s: 0.059 one way, 0.081 the
other); 40 distinct smooth pictures (gradients with a disc and a rectangle) ≥ 0.095 for every
pair. The default threshold 0.06 sits between (docs/design.md, "design §3.1 Hygiene").
"""

import numpy as np
from tqdm import tqdm

THUMB = 32  # side of the stored greyscale thumbnail
COARSE = 8  # side of the candidate thumbnail (4×4 block means of the 32×32 one)
BANDS, BAND_BITS = 96, 20
BLOCK = 4  # side of the blocks whose mean difference is compared at the pixel level
# Alignments tried: a copy cropped by 2 px a side at 64 px and resized back is 6.7 % larger;
# scales up to ±8 % in 9 log steps, shifts up to ±1.5 thumbnail pixels (±3 px at 64) by 0.25.
SCALES = np.exp(np.linspace(-np.log(1.08), np.log(1.08), 9))
SHIFTS = np.linspace(-1.5, 1.5, 13)
MARGIN = 2  # thumbnail pixels left out on each side: what a crop or rescale moves past the edge
CONTRAST_PERCENTILE = 1  # a's tone range: from this percentile to 100 minus it
MIN_CONTRAST = (
    0.1  # share of 0–255 below which a tone range counts as flat (noise is not scaled up)
)
REFINE = 3  # pairs within REFINE × max_distance before refining get the refined alignment
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


def _cubic(t: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel (a = -0.5): resampling that blurs less than linear, so a
    fractional alignment of a sharp digit is not mistaken for a different picture."""
    t = np.abs(t)
    near = 1.5 * t**3 - 2.5 * t**2 + 1
    far = -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


def _warp(scale: float, shift: float) -> np.ndarray:
    """(THUMB, THUMB) matrix that resamples a row (or column) of b at c + scale·(x − c) + shift:
    where the pixel x of the first picture lies in the second."""
    c = (THUMB - 1) / 2
    u = np.clip(c + scale * (np.arange(THUMB) - c) + shift, 0, THUMB - 1)
    r = _cubic(u[:, None] - np.arange(THUMB)[None, :])
    return (r / r.sum(1, keepdims=True)).astype(np.float32)


WARPS = np.stack([_warp(sc, sh) for sc in SCALES for sh in SHIFTS])  # (scales × shifts, s, s)
IDENTITY = (len(SCALES) // 2) * len(SHIFTS) + len(SHIFTS) // 2
# The profiles try every other scale and shift (_refine's window covers the steps between);
# every warp of a profile at once: profile (P, s) @ this = (P, warps × s).
_COARSE_GRID = np.array(
    [i * len(SHIFTS) + j for i in range(0, len(SCALES), 2) for j in range(0, len(SHIFTS), 2)]
)
_PROFILE_WARPS = np.ascontiguousarray(WARPS[_COARSE_GRID].transpose(2, 0, 1).reshape(THUMB, -1))


def _zero_mean_core(x: np.ndarray) -> np.ndarray:
    """The last two axes cut to the core and centred: what a correlation compares."""
    c = x[..., MARGIN : THUMB - MARGIN, MARGIN : THUMB - MARGIN]
    return c - c.mean((-2, -1), keepdims=True)


def _profile_alignment(af: np.ndarray, bf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Warp indices (x, y) of each pair: the ones whose column and row sums of b correlate best
    with a's. Profiles cost a 32-sample correlation per warp, so the whole grid is tried; scale and
    shift blur into each other in one dimension, which _refine settles."""
    found = []
    for axis in (1, 2):  # column sums (x), then row sums (y)
        pa, pb = af.sum(axis), bf.sum(axis)
        out = (pb @ _PROFILE_WARPS).reshape(len(pa), len(_COARSE_GRID), THUMB)
        out = out[:, :, MARGIN:-MARGIN] - out[:, :, MARGIN:-MARGIN].mean(2, keepdims=True)
        ref = pa[:, MARGIN:-MARGIN] - pa[:, MARGIN:-MARGIN].mean(1, keepdims=True)
        ncc = (out @ ref[:, :, None])[:, :, 0] / np.maximum(np.linalg.norm(out, axis=2), 1e-6)
        found.append(_COARSE_GRID[ncc.argmax(1)])
    return found[0], found[1]


def _ncc(out: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Correlation of each warped b (P, s, s) with a's centred core ``ref`` (up to a's norm)."""
    out = _zero_mean_core(out)
    return (out * ref).sum((1, 2)) / np.maximum(np.sqrt((out * out).sum((1, 2))), 1e-6)


def _refine(af, bf, rx, ry) -> tuple[np.ndarray, np.ndarray]:
    """Alignment by the correlation of the whole core (any brightness and contrast), searched
    around the profiles' guess or no warp, whichever correlates better (clipped highlights of a
    brightened copy can mislead the profiles): ±2 scale and ±2 shift steps on one axis at a time,
    x, y, x."""
    ref = _zero_mean_core(af)
    guess = _ncc(WARPS[ry] @ bf @ WARPS[rx].transpose(0, 2, 1), ref)
    plain = guess < _ncc(bf, ref)
    rx, ry = np.where(plain, IDENTITY, rx), np.where(plain, IDENTITY, ry)
    n_sc, n_sh = len(SCALES), len(SHIFTS)
    steps = [(ds, dt) for ds in range(-2, 3) for dt in range(-2, 3)]
    for axis_x in (True, False, True):
        fixed = ry if axis_x else rx
        # b warped along the other axis once; each candidate then costs one small matmul
        base = WARPS[fixed] @ bf if axis_x else bf @ WARPS[fixed].transpose(0, 2, 1)
        start = rx if axis_x else ry
        best, arg = np.full(len(af), -np.inf, np.float32), start.copy()
        for ds, dt in steps:
            k = np.clip(start // n_sh + ds, 0, n_sc - 1) * n_sh + np.clip(
                start % n_sh + dt, 0, n_sh - 1
            )
            ncc = _ncc(base @ WARPS[k].transpose(0, 2, 1) if axis_x else WARPS[k] @ base, ref)
            better = ncc > best
            best[better], arg[better] = ncc[better], k[better]
        rx, ry = (arg, ry) if axis_x else (rx, arg)
    return rx, ry


def _distance_at(a: np.ndarray, b: np.ndarray, rx: np.ndarray, ry: np.ndarray) -> np.ndarray:
    """Largest BLOCK×BLOCK mean difference over the core once b is warped by (rx, ry) and its
    tones are mapped onto a's there, as a share of a's own tone range."""
    p, q = len(a), THUMB - 2 * MARGIN
    core = slice(MARGIN, THUMB - MARGIN)
    warped = WARPS[ry] @ b.astype(np.float32) @ WARPS[rx].transpose(0, 2, 1)
    warped = np.clip(np.rint(warped[:, core, core]), 0, 255).astype(np.uint8).reshape(p, -1)
    ac = a[:, core, core].reshape(p, -1)
    # Tones are matched on the core only: a crop changes what the border adds to the histogram.
    matched = _match_tones(warped, ac)
    lo, hi = np.percentile(a.reshape(p, -1), [CONTRAST_PERCENTILE, 100 - CONTRAST_PERCENTILE], 1)
    contrast = np.maximum(hi - lo, MIN_CONTRAST * 255).astype(np.float32)[:, None]
    diff = (np.abs(matched - ac) / contrast).reshape(p, q // BLOCK, BLOCK, q // BLOCK, BLOCK)
    return diff.mean((2, 4)).max((1, 2))


def distances(a: np.ndarray, b: np.ndarray, refine_below: float = np.inf) -> np.ndarray:
    """Distance of each pair of 32×32 uint8 thumbnails (P, 32, 32): the largest 4×4-block mean
    difference at the best of three alignments (none, the profiles' guess, the refined one), after
    tone matching, as a share of the first picture's tone range: 0 for the same picture. Only
    pairs under ``refine_below`` at the first two are refined (the costly step)."""
    af, bf = a.astype(np.float32), b.astype(np.float32)
    rx, ry = _profile_alignment(af, bf)
    same = np.full(len(a), IDENTITY)
    # No warp too: a re-toned copy (gamma, clipped highlights) can mislead the profiles.
    best = np.minimum(_distance_at(a, b, same, same), _distance_at(a, b, rx, ry))
    todo = np.flatnonzero(best <= refine_below)
    if len(todo):
        fx, fy = _refine(af[todo], bf[todo], rx[todo], ry[todo])
        best[todo] = np.minimum(best[todo], _distance_at(a[todo], b[todo], fx, fy))
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
        d = distances(thumbs[chunk[:, 0]], thumbs[chunk[:, 1]], REFINE * max_distance)
        # A copy matches both ways; one direction alone lets a shrink-and-shift of one picture
        # fit a different one (two scikit-learn "1"s: 0.059 one way, 0.081 the other).
        both = np.flatnonzero(d <= max_distance)
        if len(both):
            back = distances(thumbs[chunk[both, 1]], thumbs[chunk[both, 0]], REFINE * max_distance)
            d[both] = np.maximum(d[both], back)
        found += [
            (int(i), int(j), float(x))
            for (i, j), x in zip(chunk, d, strict=True)
            if x <= max_distance
        ]
    return found
