"""A lab that tells the truth: every FID beside its real-vs-real floor, precision / recall /
density / coverage, memorisation (a generator that copies is flagged, its copies shown) and the
classes — on scikit-learn's real digits in a small classifier's feature space trained here."""

import csv
import logging
import shutil
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from conftest import TINY, make_cfg
from PIL import Image
from sklearn.datasets import load_digits

from gan_lab.callbacks.metrics import ImageMetrics
from gan_lab.core.noise import Normal
from gan_lab.data.datamodule import GANDataModule
from gan_lab.metrics import memorisation
from gan_lab.metrics.best import best_unflagged
from gan_lab.metrics.classifier import ClassifierFeatures, SmallCNN
from gan_lab.metrics.prdc import prdc
from gan_lab.metrics.realpool import permutation
from gan_lab.metrics.scorer import Scorer
from gan_lab.metrics.scores import score_run
from gan_lab.metrics.truth import Truth
from gan_lab.runs import layout
from gan_lab.runs.files import read_rows
from gan_lab.training.train import train

SIZE = 16  # the digits (8×8) at 16 px: enough for a classifier, cheap for the suite


@pytest.fixture(scope="module")
def digits():
    """The 1,797 real digits as uint8 1×16×16 images, their labels and class names."""
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16.0
    x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    images = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    return images, torch.tensor(d.target), [str(c) for c in range(10)]


@pytest.fixture(scope="module")
def space(digits):
    """The digits' own feature space: a small classifier of their 10 classes (≈1 s)."""
    images, labels, classes = digits
    torch.manual_seed(0)
    net = SmallCNN(channels=1, image_size=SIZE, num_classes=10, width=8, feature_dim=32)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(3):
        for idx in torch.randperm(len(images)).split(64):
            loss = F.cross_entropy(net(images[idx].float() / 255), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return ClassifierFeatures(net.eval(), "digits", classes, 1.0)


def datamodule(digits, n: int | None = None):
    images, labels, classes = digits
    n = n or len(images)
    names = [f"{c}/{i:04d}.png" for i, c in enumerate(labels[:n].tolist())]
    return SimpleNamespace(
        images=images[:n], labels=labels[:n], classes=classes, names=names, cache_dir=None
    )


def test_real_digits_against_held_out_digits_have_precision_and_recall_above_09(digits, space):
    feats, _ = Scorer(space).features(digits[0].float() / 255)
    perm = permutation(len(feats), 0)
    found = prdc(feats[perm[:300]], feats[perm[300:600]])
    assert found["precision"] >= 0.9 and found["recall"] >= 0.9, found
    assert 0.8 < found["density"] < 1.2 and found["coverage"] >= 0.9, found


def test_one_image_generator_has_no_recall_no_coverage_and_is_a_copy(digits, space):
    feats, _ = Scorer(space).features(digits[0].float() / 255)
    perm = permutation(len(feats), 0)
    real = feats[perm[:300]]
    one = feats[perm[400]].expand(300, -1)  # a training image, drawn 300 times
    found = prdc(real, one)
    # One point lies in about k of the n real balls: coverage ≈ k/n (5/300), recall 0.
    assert found["recall"] <= 0.01 and found["coverage"] <= 2 * 5 / 300, found
    assert memorisation.score(one, feats[perm[300:]]) == 1.0  # it is in the training set
    fresh = memorisation.score(feats[perm[:300]], feats[perm[300:]])  # held-out real digits
    assert 0.3 < fresh < 0.7  # as likely inside their nearest training image's radius as not


def test_the_memorisation_floor_holds_each_training_image_out_in_turn():
    # Points at 0, 1 and 3: held out, 0 lands on 1 whose nearest other is then 3 (2 away): a copy;
    # 1 lands on 0 (whose nearest other is then 3): a copy; 3 lands on 1, whose nearest other is 0
    # at distance 1 < 2: not a copy. Two of three.
    train = torch.tensor([[0.0], [1.0], [3.0]])
    assert memorisation.Reference(train).floor() == pytest.approx(2 / 3)
    held_out = [memorisation.score(train[i : i + 1], train[torch.arange(3) != i]) for i in range(3)]
    assert sum(held_out) / 3 == pytest.approx(2 / 3)


def test_floor_prdc_and_memorisation_columns_and_the_copier_is_flagged(digits, space, tmp_path):
    dm = datamodule(digits)
    truth = Truth(Scorer(space), dm, n=200, seed=0, memorisation_n_train=1000)
    fresh_idx = permutation(len(dm.images), 0)[1500:1700]  # never in the scored or searched rows
    fresh = truth.evaluate(dm.images[fresh_idx].float() / 255)
    s = fresh.scores
    names = ["fid", "fid_floor", "kid", "kid_floor", "precision", "recall", "density", "coverage"]
    for name in [*names, "memorisation", "memorisation_floor"]:
        base, _, floor = name.partition("_")
        assert f"val/{base}_digits{'_' + floor if floor else ''}" in s, name
    # Real digits against other real digits: FID near its floor, and not memorising.
    assert s["val/fid_digits"] < 2 * s["val/fid_digits_floor"]
    assert 0.3 < s["val/memorisation_digits_floor"] < 0.7
    assert 0.3 < s["val/memorisation_digits"] < 0.7 and not fresh.memorising
    copied_idx = permutation(len(dm.images), 0)[:200]  # a generator that redraws training images
    copier = truth.evaluate(dm.images[copied_idx].float() / 255)
    assert copier.scores["val/memorisation_digits"] == 1.0 and copier.memorising
    top = copier.pairs[0]
    assert top["distance"] < 1e-4 and top["ssim"] > 0.999
    assert dm.names[top["train_index"]] == top["train_name"]
    copier.write_gallery(tmp_path, 7)
    rows = list(csv.DictReader(layout.memorisation_csv(tmp_path, 7).open()))
    assert [r["rank"] for r in rows[:3]] == ["1", "2", "3"] and len(rows) == 200
    assert Image.open(layout.memorisation_png(tmp_path, 7)).size[0] > 8 * SIZE
    classes = copier.class_rows(7)  # the extractor's classes are the data's: one row per class
    assert [r["class"] for r in classes] == dm.classes and all(r["epoch"] == 7 for r in classes)
    assert abs(sum(float(r["sample_share"]) for r in classes) - 1) < 1e-3
    # ≥ class_fd_min (50) real images of each class among the 1,000 searched, ≥ 2 samples each.
    assert all(float(r["fd"]) >= 0 for r in classes)


def write_digit_folder(root, digits, n_per_class: int = 6):
    images, labels, _ = digits
    for c in range(3):
        picked = (labels == c).nonzero().flatten()[:n_per_class]
        (root / str(c)).mkdir(parents=True, exist_ok=True)
        for i in picked.tolist():
            big = F.interpolate(images[i : i + 1].float(), size=32, mode="nearest")[0, 0]
            Image.fromarray(big.to(torch.uint8).numpy(), mode="L").save(root / str(c) / f"{i}.png")


class Counting(torch.nn.Module):
    """An extractor that counts the images it was asked about."""

    suffix, feature_dim, num_classes = "_count", 8, 3

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.proj = torch.nn.Linear(32 * 32, 8)
        self.seen = 0

    def forward(self, x):
        self.seen += len(x)
        f = self.proj(x.flatten(1))
        return f, f[:, :3]


def test_cached_real_features_are_reused_and_a_changed_folder_never_reuses_them(digits, tmp_path):
    root, cache = tmp_path / "folder", tmp_path / "cache"
    write_digit_folder(root, digits)

    def pool():
        dm = GANDataModule(
            "folder", "folder", str(root), image_size=32, channels=1, cache_dir=str(cache)
        )
        dm.load()
        extractor = Counting()
        truth = Truth(Scorer(extractor), dm, n=6, memorisation_n_train=18)
        return truth, extractor.seen

    first, seen = pool()
    assert seen == 18 and list((cache / "features").glob("*.pt"))
    again, seen = pool()
    assert seen == 0 and torch.equal(again.pool.feats, first.pool.feats)  # read from the cache
    victim = sorted((root / "1").glob("*.png"))[0]
    pixels = torch.from_numpy(__import__("numpy").array(Image.open(victim))).clone()
    pixels[:8, :8] = 255 - pixels[:8, :8]  # one image edited
    Image.fromarray(pixels.numpy()).save(victim)
    changed, seen = pool()
    assert seen == 18  # recomputed, not the stale features
    assert not torch.equal(changed.pool.feats, first.pool.feats)
    assert set(changed.floors) == {
        "val/fid_count_floor",
        "val/kid_count_floor",
        "val/memorisation_count_floor",
    }


class Copier(torch.nn.Module):
    """A 'generator' that redraws training images (in [-1, 1], as a tanh G would)."""

    latent_dim, num_classes, value_range = 4, 0, (-1.0, 1.0)

    def __init__(self, images):
        super().__init__()
        self.images = images.float() / 127.5 - 1

    def forward(self, z):
        idx = (z[:, 0].abs() * 1000).long() % len(self.images)
        return self.images[idx]


def test_the_training_callback_warns_once_and_writes_the_gallery_and_classes(
    digits, space, tmp_path, caplog
):
    dm = datamodule(digits, 600)
    callback = ImageMetrics(
        every_n_epochs=1, n_samples=100, extractor="unused", dirpath=str(tmp_path)
    )
    callback.scorer = Scorer(space)
    logged = {}
    module = SimpleNamespace(
        shown_generator=Copier(dm.images),
        noise=Normal(),
        device=torch.device("cpu"),
        conditional=False,
        class_ids=[0],
        log=lambda name, value, **_: logged.__setitem__(name, value),
    )
    trainer = SimpleNamespace(current_epoch=0, max_epochs=3, is_global_zero=True, datamodule=dm)
    with caplog.at_level(logging.WARNING):
        for epoch in range(2):
            trainer.current_epoch = epoch
            callback.on_train_epoch_end(trainer, module)
    assert logged["val/memorisation_digits"] > 0.9 and "val/fid_digits_floor" in logged
    said = [r.getMessage() for r in caplog.records if "MEMORISING" in r.getMessage()]
    assert len(said) == 1 and "memorisation_line" in said[0]  # once, loudly
    warnings = read_rows(tmp_path / layout.WARNINGS_CSV)
    assert [(w["epoch"], w["kind"]) for w in warnings] == [("1", "memorisation")]
    assert layout.memorisation_png(tmp_path, 1).is_file()
    assert layout.memorisation_csv(tmp_path, 2).is_file()
    rows = read_rows(tmp_path / layout.CLASSES_CSV)
    assert len(rows) == 20 and list(rows[0]) == [
        "epoch",
        "class",
        "data_share",
        "sample_share",
        "accuracy",
        "fd",
    ]
    assert callback.state_dict() == {"warned_memorising": True}


def test_a_resume_from_an_earlier_epoch_sets_later_galleries_and_class_rows_aside(tmp_path):
    from gan_lab.runs.files import append_rows
    from gan_lab.runs.rollback import set_aside

    for epoch in (1, 3):
        for path in (
            layout.memorisation_png(tmp_path, epoch),
            layout.memorisation_csv(tmp_path, epoch),
        ):
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(b"x")
        append_rows(tmp_path / layout.CLASSES_CSV, [{"epoch": epoch, "class": "a"}])
    dest = set_aside(tmp_path, 2, "later")
    assert layout.memorisation_png(tmp_path, 1).exists()
    assert not layout.memorisation_csv(tmp_path, 3).exists()
    assert layout.memorisation_csv(dest, 3).exists()
    assert [r["epoch"] for r in read_rows(tmp_path / layout.CLASSES_CSV)] == ["1"]
    assert [r["epoch"] for r in read_rows(dest / layout.CLASSES_CSV)] == ["1", "3"]


def test_a_new_run_in_an_old_folder_sets_the_old_warm_up_table_aside(tmp_path):
    """model.warmup's table is written once, at a run's start: a new run in the folder (epoch 0)
    must not show the old run's; a resume (or a roll-back) keeps it."""
    from gan_lab.runs.files import append_rows
    from gan_lab.runs.rollback import set_aside

    append_rows(tmp_path / layout.CLASSES_CSV, [{"epoch": 1, "class": "a"}])
    layout.warmup_csv(tmp_path).write_text("network,step,loss\nG,1,0.5\n")
    set_aside(tmp_path, 1, "resumed")
    assert layout.warmup_csv(tmp_path).exists()
    dest = set_aside(tmp_path, 0, "new")
    assert not layout.warmup_csv(tmp_path).exists()
    assert layout.warmup_csv(dest).read_text().startswith("network,step,loss")


def test_best_skips_checkpoints_flagged_as_memorising():
    rows = [
        {"checkpoint": "a", "val/fid": 30.0, "memorising": ""},
        {"checkpoint": "b", "val/fid": 10.0, "memorising": "yes"},
        {"checkpoint": "c", "val/fid": 20.0, "memorising": ""},
    ]
    best, skipped = best_unflagged(rows, "val/fid")
    assert best["checkpoint"] == "c" and [r["checkpoint"] for r in skipped] == ["b"]
    every = [{**r, "memorising": "yes"} for r in rows]
    assert best_unflagged(every, "val/fid")[0]["checkpoint"] == "b"


@pytest.fixture(scope="module")
def shapes_run(tmp_path_factory):
    """2 epochs on the built-in shapes with a 1-epoch shapes classifier as the feature space."""
    from gan_lab.metrics.classifier import data_config, train_extractor

    folder = tmp_path_factory.mktemp("truth")
    extractor = folder / "shapes.pt"
    train_extractor(data_config("builtin", ["data.num_images=256"]), extractor, epochs=1)
    out = folder / "run"
    overrides = [
        *TINY,
        "trainer.max_epochs=2",
        "callbacks.samples=null",
        "logger=none",
        "callbacks.report=null",
        "callbacks.history.plot=false",
        f"metrics.extractor={extractor}",
        "metrics.every_n_epochs=1",
        "metrics.n_samples=48",
    ]
    train(make_cfg(out, overrides))
    return out, extractor


def test_a_run_logs_floors_prdc_memorisation_and_gan_lab_score_reads_them(
    shapes_run, tmp_path, capsys
):
    run, extractor = shapes_run
    header = list(read_rows(run / layout.METRICS_CSV)[-1])
    for name in ("fid", "fid_shapes_floor", "kid_shapes_floor", "precision", "coverage"):
        assert f"val/{name}" in header or f"val/{name}_shapes" in header, name
    assert "val/memorisation_shapes_floor" in header
    assert layout.memorisation_png(run, 2).is_file()
    assert {r["epoch"] for r in read_rows(run / layout.CLASSES_CSV)} == {"1", "2"}
    copy = tmp_path / "run"
    shutil.copytree(run / layout.CHECKPOINTS, copy / layout.CHECKPOINTS)
    rows = score_run(copy, "cpu", extractor=str(extractor), n_samples=48)
    printed = capsys.readouterr().out
    assert "× the real-vs-real floor" in printed
    assert all(r["memorising"] in ("", "yes") for r in rows)
    table = read_rows(copy / layout.SCORES_CSV)
    assert {"val/fid_shapes_floor", "val/kid_shapes_floor", "memorising", "best"} <= set(table[0])
    assert layout.memorisation_csv(copy, 1).is_file() and (copy / layout.CLASSES_CSV).is_file()


# ---- slow: real training runs on the digits (make test-slow) ------------------------------------
# 40 digits, batch 16: 2 steps an epoch, 18,000 steps; flagged at epoch 6,000 (0.73 against a floor
# of 0.65), the test took 20 minutes on a shared 2-core EPYC (docs/scores.md, "Memorisation").
LONG_EPOCHS = 9000


@pytest.fixture(scope="module")
def digits_extractor(tmp_path_factory):
    """gan-lab extractor on data=digits (8 epochs): the feature space of both slow runs."""
    from gan_lab.config import registry
    from gan_lab.metrics.classifier import data_config, train_extractor

    out = tmp_path_factory.mktemp("digits") / "digits.pt"
    train_extractor(data_config("digits"), out, epochs=8, name="digits")
    dm = registry.build("data", data_config("digits"), value_range=(0.0, 1.0))
    dm.load()
    return out, dm.root


@pytest.mark.slow
def test_a_long_run_on_40_digits_is_flagged_as_memorising(digits_extractor, tmp_path):
    extractor, root = digits_extractor
    forty = tmp_path / "forty"
    for c in range(10):  # 4 digits of each class, no augmentation of any kind
        (forty / str(c)).mkdir(parents=True)
        for png in sorted((root / str(c)).glob("*.png"))[:4]:
            shutil.copy(png, forty / str(c) / png.name)
    out = tmp_path / "run"
    overrides = [
        "data=folder",
        f"data.root={forty}",
        "data.image_size=32",
        "data.augment.flip=false",
        "data.augment.zoom=0",
        "data.augment.rotate=0",
        "model.ada.enabled=false",
        "generator=fast",
        "discriminator=fast",
        f"trainer.max_epochs={LONG_EPOCHS}",
        f"callbacks.checkpoint.every_n_epochs={LONG_EPOCHS // 6}",
        f"metrics.extractor={extractor}",
        f"metrics.every_n_epochs={LONG_EPOCHS // 6}",
        "logger=none",
        "callbacks.samples.gif=false",
        "callbacks.report=null",
    ]
    train(make_cfg(out, overrides))
    flagged = [w for w in read_rows(out / layout.WARNINGS_CSV) if w["kind"] == "memorisation"]
    assert len(flagged) == 1
    epoch = int(flagged[0]["epoch"])
    pairs = read_rows(layout.memorisation_csv(out, epoch))
    assert layout.memorisation_png(out, epoch).is_file() and float(pairs[0]["ssim"]) > 0.8
    rows = score_run(out, "cpu")
    assert rows[-1]["memorising"] == "yes"


@pytest.mark.slow
def test_a_default_run_on_all_digits_is_not_flagged(digits_extractor, tmp_path):
    extractor, _ = digits_extractor
    out = tmp_path / "run"
    overrides = [
        "data=digits",
        f"metrics.extractor={extractor}",
        "metrics.every_n_epochs=10",
        "logger=none",
        "callbacks.samples.gif=false",
        "callbacks.report=null",
    ]
    train(make_cfg(out, overrides))
    assert not [w for w in read_rows(out / layout.WARNINGS_CSV) if w["kind"] == "memorisation"]
    scored = [r for r in read_rows(out / layout.METRICS_CSV) if r.get("val/memorisation_digits")]
    assert scored and all(float(r["val/memorisation_digits"]) < 0.7 for r in scored)
