"""Look at a data set before training on it (003 §4–5, 002 §2).

    gan-lab preview data=<set> [data.root=<folder>] [preview.out_dir=<dir>]

Writes batch.png (a grid of training images), augment.png (each row: an image, then
augmented copies), stats.png (per-pixel mean, std, min and max: all channels and per
channel), stats_mean.png … (the four statistics as images), sizes.png (a histogram of
the original image sizes) and stats.pt (the statistics as float tensors in [0, 1]).
"""

import sys
from pathlib import Path

import torch
from omegaconf import open_dict
from torchvision.utils import save_image

from gan_lab.cli import meta_args
from gan_lab.config import compose, registry
from gan_lab.config.schema import PREVIEW
from gan_lab.config.validate import check_config
from gan_lab.data.augment import augment_grid
from gan_lab.data.statistics import pixel_statistics, plot_sizes, plot_statistics
from gan_lab.errors import friendly
from gan_lab.runs import layout
from gan_lab.training import recipe


def preview(argv: list[str]) -> Path:
    cfg = compose("preview", argv)
    check_config(cfg)  # the data.* keys
    check_config(cfg, PREVIEW)
    out = Path(cfg.preview.out_dir or Path(cfg.paths.output_dir) / cfg.data.name)
    out.mkdir(parents=True, exist_ok=True)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)  # the audit report of a folder set lands here too
    data, _ = recipe.data_to_build(cfg)  # the augmentation training would use (recipe=auto)
    dm = registry.build("data", data)
    dm.load()
    g = torch.Generator().manual_seed(cfg.preview.seed)
    pick = torch.randperm(len(dm.images), generator=g)
    save_image(
        dm.images[pick[: cfg.preview.n]].float() / 255.0,
        out / layout.PREVIEW_BATCH,
        nrow=8,
        padding=2,
    )
    torch.manual_seed(cfg.preview.seed)
    save_image(
        augment_grid(
            dm.images[pick[: cfg.preview.augment_images]], dm.augment, cfg.preview.augment_copies
        ),
        out / layout.PREVIEW_AUGMENT,
    )
    stats = pixel_statistics(dm.images)
    torch.save(stats, out / "stats.pt")
    for key, value in stats.items():
        save_image(value, out / f"stats_{key}.png")
    plot_statistics(stats, out / "stats.png")
    plot_sizes(dm.original_sizes, out / "sizes.png")
    print(f"preview of data={cfg.data.name} ({len(dm.images)} images) in {out.resolve()}")
    return out


@friendly
def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if meta_args(argv, "preview", __doc__):
        return
    preview(argv)
