"""Write generated images as PNG files, from a checkpoint alone (``gan-lab sample``)."""

from pathlib import Path

import torch
from torchvision.utils import save_image

from gan_lab.core.truncation import truncate
from gan_lab.errors import UserError
from gan_lab.hardware import pick_device
from gan_lab.models import to_unit
from gan_lab.progress import progress
from gan_lab.training.checkpoint import load_gan


def sample(
    ckpt: str,
    n: int,
    out_dir: str | Path,
    seed: int = 0,
    batch_size: int = 64,
    device: str = "auto",
    class_: int | str = "all",
    psi: float = 1.0,
) -> list[Path]:
    """Generate n images (per class, for a conditional model) with the checkpoint's G and noise;
    ``psi`` < 1 pulls each z toward the mean latent (gan_lab.core.truncation)."""
    gan = load_gan(ckpt, pick_device(device))
    out = Path(out_dir)
    torch.manual_seed(seed)
    if not gan.conditional:
        if class_ != "all":
            gan.class_index(class_)  # raises: this generator takes no class
        return _write(gan, n, None, out, batch_size, psi)
    wanted = range(gan.generator.num_classes) if class_ == "all" else [gan.class_index(class_)]
    # Class names become folder names: read_checkpoint lets only plain names through.
    names = gan.classes or [str(k) for k in range(gan.generator.num_classes)]
    return [p for k in wanted for p in _write(gan, n, k, out / names[k], batch_size, psi)]


def _write(gan, n: int, label: int | None, out: Path, batch_size: int, psi: float) -> list[Path]:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # a file of that name, a folder not writable
        why = "a file is there" if out.exists() else (err.strerror or str(err))
        raise UserError(f"out_dir={out} cannot be the samples' folder: {why}.") from None
    written = []
    device = gan.fixed_z.device
    with torch.no_grad():
        for start in progress(range(0, n, batch_size), desc=f"sampling {out}", unit="batch"):
            m = min(batch_size, n - start)
            z = truncate(gan.noise.sample(m, gan.generator.latent_dim, device), gan.noise, psi)
            y = None if label is None else torch.full((m,), label, dtype=torch.long, device=device)
            images = to_unit(gan.generator(z, y), gan.value_range).cpu()
            for i, image in enumerate(images):
                path = out / f"sample_{start + i:05d}.png"
                save_image(image, path)
                written.append(path)
    return written
