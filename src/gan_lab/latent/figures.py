"""Pictures of the latent tools: strips, GIFs, target|reconstruction, loss curves, edit grids.

Images come in on the [0, 1] scale. Matplotlib's object API (no pyplot) keeps this
usable from threads and headless machines without choosing a backend.
"""

from pathlib import Path

import torch
from matplotlib.figure import Figure
from PIL import Image
from torchvision.utils import make_grid


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] float → uint8 exactly as torchvision's save_image rounds it."""
    return images.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8)


def _pil(image: torch.Tensor, zoom: int) -> Image.Image:
    """(C, H, W) in [0, 1] → an RGB PIL image, upscaled ``zoom`` times without smoothing."""
    array = to_uint8(image.expand(3, -1, -1)).permute(1, 2, 0).numpy()
    pil = Image.fromarray(array, "RGB")
    return pil.resize((pil.width * zoom, pil.height * zoom), Image.Resampling.NEAREST)


def save_strip(images: torch.Tensor, path: Path, zoom: int = 1, nrow: int | None = None) -> Path:
    """A row (or ``nrow``-wide grid) of images, 2 px apart."""
    grid = make_grid(images, nrow=nrow or len(images), padding=2, pad_value=1.0)
    _pil(grid, zoom).save(path)
    return path


def save_gif(images: torch.Tensor, path: Path, zoom: int = 4, ms: int = 200) -> Path:
    """An animated GIF; the last frame is held longer so that the result can be seen."""
    frames = [_pil(image, zoom) for image in images]
    durations = [ms] * (len(frames) - 1) + [ms * 5]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return path


def _show(ax, image: torch.Tensor, title: str = "") -> None:
    array = image.permute(1, 2, 0).numpy()
    ax.imshow(
        array[..., 0] if array.shape[-1] == 1 else array,
        cmap="gray",
        vmin=0,
        vmax=1,
        interpolation="nearest",
    )
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def save_pair(target: torch.Tensor, reconstruction: torch.Tensor, mse: float, path: Path) -> Path:
    """Target | G(z), side by side, the final MSE in the title."""
    fig = Figure(figsize=(4.4, 2.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    _show(left, target, "target")
    _show(right, reconstruction, f"G(z)  MSE {mse:.2e}")
    fig.savefig(path, dpi=100)
    return path


def save_loss_curves(curves: dict[str, torch.Tensor], path: Path) -> Path:
    """MSE per SGD step on a log scale, one line per named curve."""
    fig = Figure(figsize=(5, 3.2), layout="constrained")
    ax = fig.subplots()
    for label, losses in curves.items():
        ax.plot(losses.numpy(), label=label, linewidth=1.2)
    ax.set_yscale("log")
    ax.set_xlabel("SGD step")
    ax.set_ylabel("MSE on [0, 1]")
    ax.grid(True, which="both", alpha=0.3)
    if len(curves) > 1:
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=100)
    return path


def save_table(
    images: list[list[torch.Tensor]],
    path: Path,
    row_labels: list[str],
    col_labels: list[str],
    titles: list[list[str]] | None = None,
) -> Path:
    """A labelled grid of single images (evolution, edit grids, comparisons); ``titles``, one per
    image, replace the column labels."""
    rows, cols = len(images), len(images[0])
    fig = Figure(figsize=(1.25 * cols + 0.6, 1.3 * rows + 0.3), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for r in range(rows):
        for c in range(cols):
            _show(axes[r][c], images[r][c], titles[r][c] if titles else "")
        axes[r][0].set_ylabel(row_labels[r], fontsize=9)
    if not titles:
        for c in range(cols):
            axes[0][c].set_title(col_labels[c], fontsize=9)
    fig.savefig(path, dpi=100)
    return path
