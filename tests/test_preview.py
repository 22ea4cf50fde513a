"""The preview command: grids and statistics pictures, and statistics that are right."""

import numpy as np
import pytest
import torch
from PIL import Image

from gan_lab.cli.preview import preview

FILES = [
    "batch.png",
    "augment.png",
    "stats.png",
    "stats_mean.png",
    "stats_std.png",
    "stats_min.png",
    "stats_max.png",
    "sizes.png",
    "stats.pt",
]


def test_preview_of_builtin_set_writes_every_picture(tmp_path):
    out = preview(["data.num_images=100", f"preview.out_dir={tmp_path}", "data.augment.rotate=15"])
    for name in FILES:
        assert (out / name).stat().st_size > 0, name
    with Image.open(out / "augment.png") as im:  # 6 rows of 1 + 8 images of 32 px with 2 px padding
        assert im.size == (9 * 34 + 2, 6 * 34 + 2)


def test_mean_image_equals_pixelwise_mean_of_files(tmp_path):
    root = tmp_path / "imgs"
    root.mkdir()
    arrays = [np.random.default_rng(i).integers(0, 255, (32, 32, 3), np.uint8) for i in range(5)]
    for i, a in enumerate(arrays):
        Image.fromarray(a).save(root / f"{i}.png")  # lossless, already at the model size
    out = preview(
        [
            "data=folder",
            f"data.root={root}",
            "data.image_size=32",
            f"preview.out_dir={tmp_path / 'p'}",
        ]
    )
    stats = torch.load(out / "stats.pt", weights_only=True)
    expected = np.stack(arrays).astype(np.float64).mean(0) / 255.0
    np.testing.assert_allclose(stats["mean"].permute(1, 2, 0).numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(
        stats["max"].permute(1, 2, 0).numpy(), np.stack(arrays).max(0) / 255.0, atol=1e-6
    )
    assert stats["std"].shape == (3, 32, 32) and stats["std"].min() >= 0
    with Image.open(out / "stats_mean.png") as im:
        np.testing.assert_allclose(np.asarray(im) / 255.0, expected, atol=1 / 255 + 1e-9)


def test_preview_of_missing_folder_is_a_user_error(tmp_path):
    from gan_lab.errors import UserError

    with pytest.raises(UserError, match="does not exist"):
        preview(["data=monet", f"data.root={tmp_path / 'none'}", f"preview.out_dir={tmp_path}"])
