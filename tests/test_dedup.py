"""Near duplicates on real data (design §3.1 Hygiene): copies of scikit-learn's digits that a crawl
would repeat (re-encoded, rescaled, brightened, cropped by 2 px and resized back) are found; the
distinct digits, many of which look alike, are not; distinct smooth pictures (colour gradients
with a disc and a rectangle) are never "the same picture" however close their tones are."""

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance

from gan_lab.data.audit import audit_records
from gan_lab.data.dedup import distances, same_pictures
from gan_lab.data.folder import inspect_file

sklearn_datasets = pytest.importorskip("sklearn.datasets")

MAX_DISTANCE = 0.06  # the default of data.audit.near_duplicate_distance
KINDS = ("jpeg", "rescaled", "brightened", "cropped")


def planted(im: Image.Image, kind: str, k: int) -> Image.Image:
    """A copy of a 64×64 picture as a crawl repeats it."""
    if kind == "jpeg":
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=75)
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    if kind == "rescaled":  # ×0.9 or ×1.1, then back to 64 px
        side = (58, 70)[k % 2]
        return im.resize((side, side), Image.Resampling.BICUBIC).resize(
            (64, 64), Image.Resampling.BICUBIC
        )
    if kind == "brightened":
        return ImageEnhance.Brightness(im).enhance(1.2)
    # 2 px cut off every edge and resized back: the picture 6.7 % larger, its border gone
    return im.crop((2, 2, 62, 62)).resize((64, 64), Image.Resampling.BICUBIC)


def thumbnails(ims: list[Image.Image], folder) -> tuple[list, np.ndarray]:
    """Records and 32×32 thumbnails as the decode pass makes them from files on disk."""
    folder.mkdir(parents=True, exist_ok=True)
    records, thumbs = [], []
    for k, im in enumerate(ims):
        path = folder / f"{k:05d}.png"
        im.save(path)
        rec, _, thumb = inspect_file(path, 64, "RGB")
        records.append(rec)
        thumbs.append(thumb)
    return records, np.stack(thumbs)


def smooth_pictures(n: int, seed: int) -> list[Image.Image]:
    """n distinct 64×64 pictures with little texture: a two-colour gradient in a random direction,
    a disc and a rectangle of random colours, places and sizes."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:64, 0:64] / 63
    pictures = []
    for _ in range(n):
        c0, c1 = rng.integers(0, 256, (2, 3))
        angle = rng.uniform(0, 2 * np.pi)
        t = np.cos(angle) * xx + np.sin(angle) * yy
        t = ((t - t.min()) / (t.max() - t.min()))[..., None]
        im = Image.fromarray((c0 * (1 - t) + c1 * t).astype(np.uint8), "RGB")
        draw = ImageDraw.Draw(im)
        r = int(rng.integers(5, 16))
        cx, cy = rng.integers(r, 64 - r, 2)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=tuple(rng.integers(0, 256, 3).tolist()))
        w, h = rng.integers(8, 28, 2)
        x0, y0 = rng.integers(0, 64 - w), rng.integers(0, 64 - h)
        draw.rectangle((x0, y0, x0 + w, y0 + h), fill=tuple(rng.integers(0, 256, 3).tolist()))
        pictures.append(im)
    return pictures


@pytest.mark.parametrize(
    "every", [pytest.param(1, marks=pytest.mark.slow, id="all 1797"), pytest.param(3, id="599")]
)
def test_copies_of_digits_are_found_and_distinct_digits_are_kept(tmp_path, every):
    """The digits as 64×64 PNGs plus 15 copies of each kind: ≥ 57 of the 60 copies found, ≤ 1 %
    of the originals flagged. The set holds no two identical digits (checked below), so every
    flagged original is a false positive. make test uses every third digit; the slow tier all
    1,797 (~10 s on one core; test_real_data audits all of them for false positives in make test)."""
    digits = sklearn_datasets.load_digits()
    assert len(np.unique(digits.images.reshape(len(digits.images), -1), axis=0)) == 1797
    images, targets = digits.images[::every], digits.target[::every]
    n = len(images)
    originals = [
        Image.fromarray((a * 255 / 16).astype(np.uint8), "L")
        .resize((64, 64), Image.Resampling.BICUBIC)
        .convert("RGB")
        for a in images
    ]
    picks = range(0, n, n // 15)[:15]  # every class, every part of the set
    sources = [i for _ in KINDS for i in picks]
    copies = [planted(originals[i], kind, k) for kind in KINDS for k, i in enumerate(picks)]
    records, thumbs = thumbnails(originals + copies, tmp_path / "digits")
    labels = [int(y) for y in targets] + [int(targets[i]) for i in sources]

    problems = audit_records(records, thumbs, labels, [str(c) for c in range(10)])
    flagged = {int(p.path.stem) for p in problems}
    found = {kind: 0 for kind in KINDS}
    for k, i in enumerate(sources):
        p = next((p for p in problems if int(p.path.stem) == n + k), None)
        if p is not None and p.kind == "near_duplicate" and f"{i:05d}.png" in p.detail:
            found[KINDS[k // 15]] += 1
    assert sum(found.values()) >= 57, found
    false_positives = sorted(f for f in flagged if f < n)
    assert len(false_positives) <= n // 100, false_positives  # 1 % of the originals


def test_distinct_smooth_pictures_are_never_the_same_picture(tmp_path):
    """Tones that a curve can map onto each other are not a picture: every pair of 40 distinct
    smooth pictures (not only those the hash bands propose) lies above the threshold."""
    _, thumbs = thumbnails(smooth_pictures(40, seed=0), tmp_path / "smooth")
    assert same_pictures(thumbs, MAX_DISTANCE) == []
    i, j = np.triu_indices(len(thumbs), 1)
    d = distances(thumbs[i], thumbs[j])
    assert d.min() > MAX_DISTANCE, sorted(zip(d.tolist(), i.tolist(), j.tolist(), strict=True))[:5]
    # the same pictures copied are found: the check is tight, not blind
    copies = [planted(im, "jpeg", k) for k, im in enumerate(smooth_pictures(40, seed=0))]
    _, copied = thumbnails(copies, tmp_path / "copies")
    assert distances(thumbs, copied).max() <= MAX_DISTANCE
