"""Real data in, all of it (design §3.1): scikit-learn's 1,797 distinct handwritten digits are
not "near duplicates" of each other, real copies of them are; a folder is decoded once; a set over
the memory budget trains from a memory-mapped file; a mostly broken folder stops the run."""

import io
import os

import numpy as np
import pytest
import torch
from conftest import QUIET, TINY, make_cfg
from PIL import Image, ImageEnhance

from gan_lab.data.audit import audit_decoded, summarize
from gan_lab.data.decoded import decode_folder
from gan_lab.errors import UserError
from gan_lab.training.train import train

sklearn_datasets = pytest.importorskip("sklearn.datasets")


def write_digits(root, size=64):
    """The digits as size×size RGB PNGs in class folders 0/ … 9/ (as a user would store them)."""
    digits = sklearn_datasets.load_digits()
    for k, (a, y) in enumerate(zip(digits.images, digits.target, strict=True)):
        (root / str(y)).mkdir(parents=True, exist_ok=True)
        im = Image.fromarray((a * 255 / 16).astype(np.uint8), "L")
        im.resize((size, size), Image.Resampling.BICUBIC).convert("RGB").save(
            root / str(y) / f"{k:04d}.png"
        )
    return digits


def copies(im: Image.Image) -> dict[str, Image.Image]:
    """What a crawl repeats: the same picture re-encoded, rescaled, re-toned, shifted by 2 px."""
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=75)
    a = np.asarray(im)
    return {
        "jpeg": Image.open(io.BytesIO(buf.getvalue())).convert("RGB"),
        "larger": im.resize((128, 128), Image.Resampling.BICUBIC),
        "smaller": im.resize((48, 48), Image.Resampling.LANCZOS),
        "toned": ImageEnhance.Contrast(ImageEnhance.Brightness(im).enhance(1.1)).enhance(0.9),
        "gamma": Image.fromarray((255 * (a / 255.0) ** 0.7).astype(np.uint8)),
        "shifted": Image.fromarray(np.roll(a, (2, -2), axis=(0, 1))),
    }


def random_pictures(root, n, seed, prefix="", shape=(40, 40, 3)):
    """n distinct noise pictures as PNGs in root."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for k in range(n):
        Image.fromarray(rng.integers(0, 255, shape, np.uint8)).save(root / f"{prefix}{k:02d}.png")
    return rng


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits") / "digits"
    write_digits(root)
    return root


def audit_folder(root, cache_dir, **rules):
    dec = decode_folder(root, 64, 3, cache_dir=cache_dir)
    return dec, audit_decoded(dec, **rules)


def test_distinct_digits_are_not_near_duplicates(digits_folder, tmp_path):
    dec, problems = audit_folder(digits_folder, tmp_path / "cache")
    flagged = {p.path for p in problems}
    assert len(dec.records) == 1797
    assert len(flagged) <= 18  # at most 1 % of the set
    assert not [p for p in problems if p.kind == "label_conflict" and p.skipped]


@pytest.mark.parametrize(
    "every", [pytest.param(1, marks=pytest.mark.slow, id="all 1797"), pytest.param(6, id="300")]
)
def test_copies_of_digits_are_all_found(digits_folder, tmp_path, every):
    """The same 30 digits copied six ways, among every sixth digit (300 distinct ones) in make
    test and among all 1,797 in the slow tier (the full set's audit costs ~8 s on a 2-core
    machine; test_distinct_digits_are_not_near_duplicates audits all of them in make test)."""
    root = tmp_path / "digits"
    picks = {}
    for k, path in enumerate(sorted(digits_folder.rglob("*.png"))):
        if k % every:
            continue
        (root / path.parent.name).mkdir(parents=True, exist_ok=True)
        (root / path.parent.name / path.name).write_bytes(path.read_bytes())
        if k % 60 == 0:  # 30 digits of every class, each copied six ways
            picks[path] = copies(Image.open(path).convert("RGB"))
    for path, made in picks.items():
        for kind, im in made.items():
            im.save(
                root / path.parent.name / f"{path.stem}_{kind}.{'jpg' if kind == 'jpeg' else 'png'}"
            )
    # One copy in another class: the same picture with two labels is reported, never dropped.
    first = next(iter(picks))
    others = [c for c in "98" if c != first.parent.name]
    (root / others[0] / "relabelled.png").write_bytes(first.read_bytes())
    picks[first]["jpeg"].save(root / others[1] / "relabelled.jpg")

    dec, problems = audit_folder(root, tmp_path / "cache")
    kinds = {p.path.relative_to(root).as_posix(): p for p in problems}
    for path, made in picks.items():
        for kind in made:
            name = f"{path.parent.name}/{path.stem}_{kind}.{'jpg' if kind == 'jpeg' else 'png'}"
            assert name in kinds and kinds[name].kind == "near_duplicate", name
            assert kinds[name].skipped and path.name in kinds[name].detail
        assert f"{path.parent.name}/{path.name}" not in kinds  # the original is kept
    for name in (f"{others[0]}/relabelled.png", f"{others[1]}/relabelled.jpg"):
        conflict = kinds[name]
        assert conflict.kind == "label_conflict" and not conflict.skipped
    text = summarize(problems, len(dec.records))
    assert f"{len(picks) * 6} near duplicate" in text and "%" in text

    _, kept = audit_folder(root, tmp_path / "cache", near_duplicates="keep")
    assert not [p for p in kept if p.skipped]  # near_duplicates=keep trains on every file


def test_second_decode_comes_from_the_cache_and_an_edit_is_reread(tmp_path):
    root = tmp_path / "set"
    rng = random_pictures(root, 40, seed=0, shape=(48, 40, 3))
    cache = tmp_path / "cache"
    first = decode_folder(root, 32, 3, cache_dir=cache)
    second = decode_folder(root, 32, 3, cache_dir=cache)
    assert first.decoded == 40 and second.decoded == 0
    assert np.array_equal(first.images, second.images)
    assert not list(root.glob(".*")) and len(list(root.iterdir())) == 40  # data folder untouched

    edited = rng.integers(0, 255, (48, 40, 3), np.uint8)
    Image.fromarray(edited).save(root / "07.png")
    os.utime(root / "07.png", ns=(1, 1))  # a changed file, whatever its time stamp says
    third = decode_folder(root, 32, 3, cache_dir=cache)
    assert third.decoded == 1
    fresh = decode_folder(root, 32, 3, cache_dir=None)  # data.cache=false: everything decoded
    assert fresh.decoded == 40 and np.array_equal(third.images, fresh.images)
    assert not np.array_equal(third.images[7], first.images[7])
    assert decode_folder(root, 24, 3, cache_dir=cache).decoded == 40  # other settings, other cache


def test_a_set_over_the_memory_budget_trains_from_a_memory_map(tmp_path):
    """The same run with the set in memory and memory-mapped gives the same weights."""
    root = tmp_path / "set"
    random_pictures(root, 24, seed=1)
    # One broken file: the memory-mapped set keeps only the good rows, like the in-memory one.
    (root / "broken.png").write_bytes(b"not an image")
    common = [
        *TINY,
        *QUIET,
        "data=folder",
        f"data.root={root}",
        "data.image_size=32",
        "data.batch_size=8",
        f"data.cache_dir={tmp_path / 'cache'}",
        "trainer.max_epochs=2",
        "trainer.deterministic=true",
        "data.audit.max_skipped_share=0.5",
    ]
    weights = []
    for budget in ("4GB", "1KB"):
        out = tmp_path / budget
        train(make_cfg(out, [*common, f"data.memory_budget={budget}"]))
        ckpt = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
        weights.append(ckpt["state_dict"])
    assert list((tmp_path / "cache").glob("*/kept-*.npy"))  # the 1KB run read a memory map
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_share_guard_stops_a_mostly_broken_folder_and_the_override_goes_on(tmp_path, gan_lab_cli):
    root = tmp_path / "crawl"
    random_pictures(root, 8, seed=2, prefix="ok")
    for k in range(8):
        (root / f"bad{k}.jpg").write_text("<html>an error page, not a photo</html>")
    overrides = [
        *TINY,
        "data=folder",
        f"data.root={root}",
        "data.image_size=32",
        "trainer.max_epochs=1",
        f"data.cache_dir={tmp_path / 'cache'}",
    ]
    # `gan-lab train` in-process (test_schema starts train.py itself for the same exit path)
    code, stdout, stderr = gan_lab_cli("train", *overrides, f"hydra.run.dir={tmp_path / 'stopped'}")
    assert code == 2, stderr[-2000:]
    assert "Traceback" not in stderr
    message = stderr + stdout
    assert "8 of 16 image files (50 %)" in message and "8 unreadable" in message
    assert "data_audit.csv" in message and "data.audit.max_skipped_share=1" in message
    assert not (tmp_path / "stopped" / "checkpoints").exists()  # nothing was trained

    accepted = tmp_path / "accepted"  # the override goes on
    train(make_cfg(accepted, [*overrides, *QUIET, "data.audit.max_skipped_share=1"]))
    assert (accepted / "checkpoints" / "last.ckpt").exists()


def test_memory_budget_must_be_a_size(cfg_factory):
    from gan_lab.data.decoded import parse_size

    assert parse_size("4GB") == 4 * 2**30 and parse_size("512MB") == 512 * 2**20
    assert parse_size(None) == float("inf")
    with pytest.raises(UserError, match="data.memory_budget"):
        parse_size("lots")
