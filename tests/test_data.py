"""Data: folders of mixed files, class subfolders, MNIST IDX files, the built-in set, augmentation."""

import struct

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from PIL import Image

from gan_lab.data.augment import BatchAugment
from gan_lab.data.builtin import CLASSES, make_shapes
from gan_lab.errors import UserError


def write_mixed_folder(root):
    """Mixed sizes, modes and formats, as a crawled folder has them."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (120, 90, 3), np.uint8)).save(root / "a.jpg")
    Image.fromarray(rng.integers(0, 255, (40, 70), np.uint8), "L").save(root / "b.png")
    Image.fromarray(rng.integers(0, 255, (64, 64, 4), np.uint8), "RGBA").save(root / "c.PNG")
    Image.fromarray(rng.integers(0, 255, (300, 200, 3), np.uint8)).convert("P").save(root / "d.gif")
    Image.fromarray(rng.integers(0, 255, (50, 50, 3), np.uint8)).save(root / "e.JPEG")
    (root / "notes.txt").write_text("not an image")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    return 5


def datamodule(cfg_factory, *overrides):
    cfg = cfg_factory(*overrides)
    dm = instantiate(cfg.data, _convert_="all")
    dm.load()
    return dm


def test_folder_of_mixed_images_loads_every_good_file(cfg_factory, tmp_path):
    n = write_mixed_folder(tmp_path / "imgs")
    dm = datamodule(
        cfg_factory,
        "data=folder",
        f"data.root={tmp_path / 'imgs'}",
        "data.audit.max_skipped_share=1",
        "data.image_size=32",
    )
    assert dm.images.shape == (n, 3, 32, 32) and dm.images.dtype == torch.uint8
    assert dm.classes == ["imgs"] and set(dm.labels.tolist()) == {0}


def test_rgba_is_composited_on_white(tmp_path):
    from gan_lab.data.folder import load_image

    Image.new("RGBA", (10, 10), (255, 0, 0, 0)).save(tmp_path / "clear.png")
    assert (load_image(tmp_path / "clear.png", 8, "RGB") == 255).all()


def test_grayscale_folder_for_one_channel_models(cfg_factory, tmp_path):
    n = write_mixed_folder(tmp_path / "imgs")
    dm = datamodule(
        cfg_factory,
        "data=folder",
        f"data.root={tmp_path / 'imgs'}",
        "data.audit.max_skipped_share=1",
        "data.image_size=28",
        "data.channels=1",
    )
    assert dm.images.shape == (n, 1, 28, 28)


def test_a_folder_of_grey_images_trains_a_one_channel_model(cfg_factory, tmp_path, caplog):
    """data.channels=auto (folders): grey RGB files (scanned digits) → 1 channel, said loudly;
    one coloured file keeps RGB; data.channels=3 forces RGB."""
    from gan_lab.training.train import build

    root = tmp_path / "grey"
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        grey = rng.integers(0, 255, (40, 40), np.uint8)
        Image.fromarray(grey).convert("RGB").save(root / f"{i}.png")  # stored as RGB, R = G = B
    args = ("data=folder", f"data.root={root}", "data.image_size=32")
    module, dm = build(cfg_factory(*args))
    assert dm.channels == 1 and dm.images.shape == (6, 1, 32, 32)
    assert module.generator(torch.randn(2, module.generator.latent_dim)).shape == (2, 1, 32, 32)
    assert module.run_config["data"]["channels"] == 1  # what a resume rebuilds
    assert "every one of the 6 images is grey" in caplog.text and "data.channels=3" in caplog.text
    assert datamodule(cfg_factory, *args, "data.channels=3").images.shape[1] == 3
    Image.fromarray(rng.integers(0, 255, (40, 40, 3), np.uint8)).save(root / "colour.png")
    assert datamodule(cfg_factory, *args, "data.cache=false").images.shape == (7, 3, 32, 32)


def test_class_subfolders_become_labels(cfg_factory, tmp_path):
    for name, count in (("sedan", 3), ("suv", 2)):
        for i in range(count):
            (tmp_path / "cars" / name).mkdir(parents=True, exist_ok=True)
            noise = np.random.default_rng(len(name) * 10 + i).integers(
                0, 255, (40, 48, 3), np.uint8
            )
            Image.fromarray(noise).save(tmp_path / "cars" / name / f"{i}.jpg")
    dm = datamodule(cfg_factory, "data=cars", f"data.root={tmp_path / 'cars'}")
    assert dm.classes == ["sedan", "suv"]
    assert sorted(dm.labels.tolist()) == [0, 0, 0, 1, 1]
    dm = datamodule(
        cfg_factory, "data=cars", f"data.root={tmp_path / 'cars'}", "data.classes=[suv]"
    )
    assert dm.labels.tolist() == [1, 1]


@pytest.mark.parametrize("name", ["cakes", "cars", "monet", "mnist", "folder"])
def test_missing_data_says_what_to_put_where(cfg_factory, tmp_path, name):
    cfg = cfg_factory(f"data={name}", f"data.root={tmp_path / 'nowhere'}")
    dm = instantiate(cfg.data, _convert_="all")
    with pytest.raises(UserError) as err:
        dm.load()
    msg = str(err.value)
    assert f"data={name}" in msg and "data.root=" in msg and "\n" not in msg
    assert str(tmp_path / "nowhere") in msg or name == "folder"


def test_named_sets_default_under_project_data_folder(cfg_factory):
    cfg = cfg_factory("data=monet")
    assert cfg.data.root == f"{cfg.paths.root_dir}/data/monet_jpg"
    assert "monet_jpg" in cfg.data.hint and "Kaggle" in cfg.data.hint


def write_idx(folder, n=20):
    folder.mkdir(parents=True, exist_ok=True)
    images = np.random.default_rng(0).integers(0, 255, (n, 28, 28), np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    with open(folder / "train-images-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes())
    with open(folder / "train-labels-idx1-ubyte", "wb") as f:
        f.write(struct.pack(">II", 2049, n) + labels.tobytes())
    return images, labels


def test_mnist_from_local_idx_files(cfg_factory, tmp_path):
    images, labels = write_idx(tmp_path / "mnist" / "MNIST" / "raw")
    dm = datamodule(cfg_factory, "experiment=mnist", f"data.root={tmp_path / 'mnist'}")
    assert dm.images.shape == (20, 1, 28, 28)
    assert torch.equal(dm.images[:, 0], torch.from_numpy(images))
    dm = datamodule(
        cfg_factory, "experiment=mnist", f"data.root={tmp_path / 'mnist'}", "data.classes=[7]"
    )
    assert dm.labels.tolist() == [7, 7]


def test_builtin_set_is_labelled_balanced_and_deterministic():
    x1, y1 = make_shapes(100, 32, seed=3)
    x2, y2 = make_shapes(100, 32, seed=3)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert x1.shape == (100, 3, 32, 32) and x1.dtype == torch.uint8
    assert torch.bincount(y1).tolist() == [20] * len(CLASSES)
    assert x1.float().std() > 30  # real pictures, not a flat colour
    x3, _ = make_shapes(100, 32, seed=4)
    assert not torch.equal(x1, x3)


def test_scaling_follows_generator_output_activation(cfg_factory):
    from gan_lab.training.train import build

    for generator, lo in (("transposed", 0.0), ("dcgan", -1.0)):
        _, dm = build(cfg_factory(f"generator={generator}"))
        dm.load()
        x, _ = dm.on_after_batch_transfer((dm.images[:64], dm.labels[:64]), 0)
        assert x.min().item() == pytest.approx(lo, abs=0.02) and x.max().item() == pytest.approx(
            1.0, abs=0.02
        )


def test_augmentation_is_per_image_and_safe():
    x = torch.rand(64, 3, 16, 16)
    assert torch.equal(BatchAugment(flip=False, zoom=0, rotate=0)(x), x)
    flipped = BatchAugment(flip=True, zoom=0, rotate=0)(x)
    is_flip = [torch.allclose(f, o.flip(-1), atol=1e-5) for f, o in zip(flipped, x, strict=True)]
    is_same = [torch.allclose(f, o, atol=1e-5) for f, o in zip(flipped, x, strict=True)]
    assert all(a or b for a, b in zip(is_flip, is_same, strict=True))
    assert 10 < sum(is_flip) < 54  # chosen per image, not per batch
    y = BatchAugment(flip=True, zoom=0.1, rotate=10)(x)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    assert not torch.allclose(y, x)
