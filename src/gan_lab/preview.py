"""Look at a data set before training on it (003 §4–5, 002 §2).

    python -m gan_lab.preview data=<set> [data.root=<folder>] [preview.out_dir=<dir>]

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

from gan_lab.cli import compose, meta_args
from gan_lab.config import registry
from gan_lab.config.schema import PREVIEW
from gan_lab.config.validate import check_config
from gan_lab.data.augment import augment_grid
from gan_lab.errors import friendly
from gan_lab.runs import layout


def pixel_statistics(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-pixel mean, std, min and max of uint8 images (N, C, H, W), each (C, H, W) in [0, 1]."""
    x = images.double() / 255.0
    return {
        "mean": x.mean(0).float(),
        "std": x.std(0, unbiased=False).float(),
        "min": x.amin(0).float(),
        "max": x.amax(0).float(),
    }


def plot_statistics(stats: dict[str, torch.Tensor], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    channels = stats["mean"].shape[0]
    names = ["all"] + (["R", "G", "B"] if channels == 3 else [])
    fig, axes = plt.subplots(4, len(names), figsize=(2.6 * len(names), 10), squeeze=False)
    for row, (key, value) in enumerate(stats.items()):
        for col, name in enumerate(names):
            ax = axes[row][col]
            if name == "all":
                shown = value.permute(1, 2, 0).squeeze(-1).numpy()
                ax.imshow(shown, cmap="gray" if channels == 1 else None, vmin=0, vmax=1)
            else:
                im = ax.imshow(value[col - 1].numpy(), cmap="magma", vmin=0, vmax=1)
                fig.colorbar(im, ax=ax, fraction=0.046)
            ax.set_title(f"{key} · {name}")
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def plot_sizes(sizes: list[tuple[int, int]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_w, ax_s) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax_w.hist([w for w, _ in sizes], bins=30, alpha=0.6, label="width")
    ax_w.hist([h for _, h in sizes], bins=30, alpha=0.6, label="height")
    ax_w.set(xlabel="pixels", ylabel="images", title=f"original sizes of {len(sizes)} images")
    ax_w.legend()
    ax_s.scatter([w for w, _ in sizes], [h for _, h in sizes], s=6, alpha=0.5)
    ax_s.set(xlabel="width", ylabel="height", title="width × height")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def preview(argv: list[str]) -> Path:
    cfg = compose("preview", argv)
    check_config(cfg)  # the data.* keys
    check_config(cfg, PREVIEW)
    out = Path(cfg.preview.out_dir or Path(cfg.paths.output_dir) / cfg.data.name)
    out.mkdir(parents=True, exist_ok=True)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)  # the audit report of a folder set lands here too
    dm = registry.build("data", cfg.data)
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


if __name__ == "__main__":
    main()
