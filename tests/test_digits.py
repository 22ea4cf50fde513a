"""data=digits (gan_lab.data.digits): scikit-learn's 1,797 handwritten digits, written once as PNGs
in class folders under the cache, then read, audited and trained on as any folder set."""

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import QUIET, TINY, make_cfg
from PIL import Image

from gan_lab.data import digits
from gan_lab.data.decoded import decode_folder
from gan_lab.errors import UserError
from gan_lab.runs import layout
from gan_lab.training.train import train

sklearn_datasets = pytest.importorskip("sklearn.datasets")

CLASSES = [str(d) for d in range(10)]
COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]  # scikit-learn's, class 0 … 9


@pytest.fixture(scope="module")
def sk():
    return sklearn_datasets.load_digits()


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """A data.cache_dir whose digits are written once for the module (as a user's first use)."""
    cache = tmp_path_factory.mktemp("cache")
    digits.write_digits(None, cache)
    return cache


@pytest.fixture(scope="module")
def folder(cache) -> Path:
    return digits.default_folder(cache)


def snapshot(root: Path) -> dict:
    return {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in root.rglob("*")}


def test_the_folder_is_in_this_machines_cache_root(tmp_path):
    """data.root stays null in the config (and so in a checkpoint): the folder is decided where
    the run runs, so a run resumed on another machine writes its own copy there."""
    cfg = make_cfg(tmp_path, ["data=digits"])
    assert cfg.data.root is None
    assert (cfg.data.image_size, cfg.data.channels, cfg.data.augment.flip) == (32, 1, False)
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "gan-lab"
    assert digits.default_folder() == cache / "sets" / "digits-64px-v1"
    assert digits.default_folder(tmp_path) == tmp_path / "sets" / "digits-64px-v1"


def test_ten_class_folders_with_scikit_learns_counts(folder, sk):
    assert sorted(p.name for p in folder.iterdir()) == CLASSES
    files = {c: sorted((folder / c).iterdir()) for c in CLASSES}
    assert [len(files[c]) for c in CLASSES] == COUNTS
    # Each file is named by its index in scikit-learn's order and sits in its label's folder.
    index = sorted(int(p.stem) for c in CLASSES for p in files[c])
    assert index == list(range(1797))
    assert all(sk.target[int(p.stem)] == int(c) for c in CLASSES for p in files[c])
    # Nothing else beside it: no temporary folder of the write is left.
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]


def test_pixels_are_scikit_learns(folder, cache, sk):
    """The PNGs hold the 17 levels spread over 0–255, upscaled bicubically to 64 px (the pixels of
    benchmarks/digits_study.py); the folder loader reads them back unchanged at 64 px."""
    expected = np.stack(
        [
            np.asarray(
                Image.fromarray((a * (255 / 16)).astype(np.uint8)).resize(
                    (64, 64), Image.Resampling.BICUBIC
                )
            )
            for a in sk.images
        ]
    )
    dec = decode_folder(folder, 64, 1, cache_dir=cache)
    order = [int(r.path.stem) for r in dec.records]
    assert np.array_equal(dec.images[..., 0], expected[order])
    # The centre of each 8×8 block reads back scikit-learn's level within half a level (255/16).
    centres = expected.reshape(-1, 8, 8, 8, 8)[:, :, 3:5, :, 3:5].mean((2, 4))
    assert np.abs(centres - sk.images * (255 / 16)).max() <= 8
    with Image.open(folder / "3" / "0003.png") as im:
        assert (im.mode, im.size) == ("L", (64, 64))


def test_a_second_use_writes_nothing_and_needs_no_scikit_learn(folder, monkeypatch):
    before = snapshot(folder.parent)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    assert digits.write_digits(folder) == folder
    assert snapshot(folder.parent) == before


def test_an_interrupted_first_use_leaves_no_folder(tmp_path, monkeypatch):
    save, written = Image.Image.save, []

    def killed_after_100(self, fp, *args, **kwargs):
        if len(written) == 100:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the first use
        written.append(fp)
        return save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", killed_after_100)
    root = tmp_path / "sets" / "digits"
    with pytest.raises(KeyboardInterrupt):
        digits.write_digits(root)
    assert len(written) == 100 and list(root.parent.iterdir()) == []


def test_a_first_use_beside_another_keeps_the_one_in_place(folder, tmp_path, monkeypatch):
    """Two first uses at once: the one that renames second finds the folder there and uses it."""
    root, rename = tmp_path / "digits", os.rename

    def other_run_finished_first(src, dst):
        shutil.copytree(folder, root, copy_function=os.link)  # the other run's whole folder
        return rename(src, dst)

    monkeypatch.setattr(digits.os, "rename", other_run_finished_first)
    assert digits.write_digits(root) == root
    assert [p.name for p in tmp_path.iterdir()] == ["digits"]  # ours was removed
    assert snapshot(root).keys() == {root / p.relative_to(folder) for p in snapshot(folder)}


def test_a_folder_that_lost_files_is_refused(folder, tmp_path):
    root = tmp_path / "digits"
    for c in CLASSES:
        (root / c).mkdir(parents=True)
        for p in list((folder / c).iterdir())[: 2 if c == "7" else None]:
            os.link(p, root / c / p.name)
    with pytest.raises(UserError) as err:
        digits.write_digits(root)
    msg = str(err.value)
    assert "holds 1620 PNG files" in msg and "1797" in msg and "Delete the folder" in msg


def test_missing_scikit_learn_is_one_paragraph(tmp_path, monkeypatch, gan_lab_cli):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    code, _, stderr = gan_lab_cli(
        "train",
        "data=digits",
        f"data.cache_dir={tmp_path / 'cache'}",
        f"hydra.run.dir={tmp_path / 'out'}",
    )
    assert code == 2 and "Traceback" not in stderr
    msg = stderr.strip().splitlines()[-1]
    assert (
        msg.startswith("gan-lab: data=digits needs scikit-learn")
        and 'pip install "gan-lab[digits]"' in msg
    )
    assert not (tmp_path / "cache" / "sets").exists()


@pytest.fixture(scope="module")
def conditional_run(cache, tmp_path_factory) -> Path:
    """A 2-step conditional run on data=digits (its set written by the module's first use)."""
    out = tmp_path_factory.mktemp("run")
    overrides = [
        *TINY,
        *QUIET,
        "data=digits",
        f"data.cache_dir={cache}",
        "model.conditional=true",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
    ]
    train(make_cfg(out, overrides))
    return out


def test_a_conditional_run_trains_on_the_ten_classes(conditional_run):
    ckpt = torch.load(conditional_run / "checkpoints" / "last.ckpt", weights_only=False)
    stored, data = ckpt["gan_lab"]["config"], ckpt["gan_lab"]["data"]
    assert ckpt["hyper_parameters"]["class_ids"] == list(range(10))
    assert stored["generator"]["num_classes"] == stored["discriminator"]["num_classes"] == 10
    assert (stored["data"]["source"], stored["data"]["channels"]) == ("digits", 1)
    assert stored["data"]["root"] is None  # this machine's cache, decided again on a resume
    assert ckpt["state_dict"]["generator.embed.weight"].shape[0] == 10
    # The fingerprint a resume compares: every digit by its path in the class folders.
    assert data["classes"] == CLASSES and len(data["images"]) == 1797
    assert data["images"][0][:2] == ["0/0000.png", 0] and data["images"][-1][:2] == [
        "9/1795.png",
        9,
    ]
    # The audit read all 1,797 and found nothing to skip or note: no two digits are the same picture.
    assert not (conditional_run / layout.AUDIT_CSV).exists()


@pytest.mark.slow
def test_gan_lab_extractor_learns_the_digits(cache, tmp_path, gan_lab_cli):
    """The digits' own feature space (val/fid_digits, ...): gan-lab extractor on data=digits."""
    from gan_lab.metrics.classifier import ClassifierFeatures

    out = tmp_path / "digits.pt"
    code, said, _ = gan_lab_cli(
        "extractor", "data=digits", f"data.cache_dir={cache}", "epochs=2", f"out={out}"
    )
    assert code in (0, None) and "val/fid_digits" in said
    extractor = ClassifierFeatures.load(out)
    assert extractor.classes == CLASSES and extractor.accuracy > 0.8
