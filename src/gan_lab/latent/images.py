"""Targets in, vectors in and out: the boundary where user files meet the generator."""

from pathlib import Path

import torch

from gan_lab.data.folder import load_image
from gan_lab.errors import UserError, load_torch_file
from gan_lab.training.checkpoint import LoadedGAN


def load_target(path: str | Path, gan: LoadedGAN) -> torch.Tensor:
    """An image file → (1, C, H, W) in the generator's range, preprocessed as the training data was:
    the same decoding, mode, centre crop and size, and uint8 → [0, 1] → value range."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"target image {path} does not exist.")
    data = gan.config["data"]
    mode = "L" if data["channels"] == 1 else "RGB"
    try:
        array = load_image(path, data["image_size"], mode)
    except Exception as err:  # noqa: BLE001 — any decoder failure means "not an image we can read"
        raise UserError(
            f"target {path} is not a readable image ({type(err).__name__}: {err}); "
            "use a JPEG, PNG, BMP, GIF, WebP or TIFF file."
        ) from None
    image = torch.tensor(array, dtype=torch.float32) / 255.0
    image = image[None] if image.ndim == 2 else image.permute(2, 0, 1)
    lo, hi = gan.value_range
    return (image * (hi - lo) + lo)[None].to(gan.fixed_z.device)


def save_z(z: torch.Tensor, path: Path) -> Path:
    """A plain (1, latent_dim) tensor: ``G(torch.load(path))`` renders it again."""
    torch.save(z.detach().cpu().clone(), path)
    return path


def load_z(path: str | Path, latent_dim: int) -> torch.Tensor:
    z = load_torch_file(path, "latent vector file")
    if not isinstance(z, torch.Tensor) or z.numel() != latent_dim:
        shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
        raise UserError(
            f"{path} holds {shape}, not one latent vector of {latent_dim} values for this "
            "generator; use a z.pt written by invert.py with the same checkpoint's run."
        )
    return z.reshape(1, latent_dim).float()
