"""What a data set looks like in numbers: per-pixel statistics and the original image sizes, and
their plots (``gan-lab preview`` writes them beside a batch and its augmented copies)."""

from pathlib import Path

import torch


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
