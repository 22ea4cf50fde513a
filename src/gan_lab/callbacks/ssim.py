"""SSIM of the fixed-noise samples against the training images, every M steps (004).

For each fixed-noise sample the best SSIM over a subset of training images is taken, then the
mean over samples: near 1 means the generator reproduces training images (memorisation or
collapse onto a few), low values mean structures unlike any training image. The curve goes to
the loggers at its own step and to ``ssim.csv``.
"""

import csv
from pathlib import Path

import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback

from gan_lab.metrics.images import real_subset
from gan_lab.models import to_unit
from gan_lab.module import batches_done


def _filter_matrix(size: int, kernel: torch.Tensor) -> torch.Tensor:
    """The 'valid' 1-D convolution of a reflect-padded axis as a (size × padded size) matrix."""
    k = len(kernel)
    m = torch.zeros(size, size + k - 1, dtype=kernel.dtype, device=kernel.device)
    for i in range(size):
        m[i, i : i + k] = kernel
    return m


@torch.no_grad()
def pairwise_ssim(
    fakes: torch.Tensor, reals: torch.Tensor, kernel_size: int = 11, sigma: float = 1.5
):
    """F×R matrix of SSIM(fake_i, real_j) for images in [0, 1].

    Same definition and constants as torchmetrics' ``structural_similarity_index_measure``
    (Gaussian 11/1.5, reflect padding, k1=0.01, k2=0.03, mean over channels and pixels), but
    pairwise with the per-image statistics shared: many times faster than calling it on every pair.
    """
    pad = (kernel_size - 1) // 2
    fakes = F.pad(fakes.double(), (pad,) * 4, mode="reflect")
    reals = F.pad(reals.double(), (pad,) * 4, mode="reflect")
    half = (kernel_size - 1) / 2
    t = torch.arange(kernel_size, dtype=torch.float64, device=fakes.device) - half
    kernel = torch.exp(-(t**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    c1, c2 = 0.01**2, 0.03**2
    g_h = _filter_matrix(fakes.shape[-2] - 2 * pad, kernel)
    g_w = _filter_matrix(fakes.shape[-1] - 2 * pad, kernel).T

    def _blur(x: torch.Tensor) -> torch.Tensor:  # separable Gaussian as two matrix products: fast
        return g_h @ x @ g_w

    mu_f, mu_r = _blur(fakes), _blur(reals)
    var_f = (_blur(fakes * fakes) - mu_f**2).clamp(min=0)
    var_r = (_blur(reals * reals) - mu_r**2).clamp(min=0)
    out = torch.empty(len(fakes), len(reals), dtype=torch.float64, device=fakes.device)
    for i in range(len(fakes)):
        cov = _blur(fakes[i : i + 1] * reals) - mu_f[i : i + 1] * mu_r
        num = (2 * mu_f[i : i + 1] * mu_r + c1) * (2 * cov + c2)
        den = (mu_f[i : i + 1] ** 2 + mu_r**2 + c1) * (var_f[i : i + 1] + var_r + c2)
        out[i] = (num / den).flatten(1).mean(1)
    return out


def best_ssim(fakes: torch.Tensor, reals: torch.Tensor) -> torch.Tensor:
    """Per fake image, the highest SSIM against any of the reals."""
    return pairwise_ssim(fakes, reals).max(dim=1).values


class SSIMTracker(Callback):
    def __init__(
        self,
        dirpath: str,
        every_n_steps: int = 100,
        n_real: int = 128,
        n_fake: int = 32,
        seed: int = 0,
    ):
        self.dirpath = Path(dirpath)
        self.every_n_steps, self.seed = every_n_steps, seed
        self.n_real, self.n_fake = n_real, n_fake
        self._reals: torch.Tensor | None = None

    @torch.no_grad()
    def measure(self, trainer, pl_module) -> float:
        if self._reals is None:
            self._reals = real_subset(trainer.datamodule.images, self.n_real, self.seed).to(
                pl_module.device
            )
        z = pl_module.fixed_z[: self.n_fake]
        fakes = to_unit(pl_module.generate(z), pl_module.generator.value_range)
        return float(best_ssim(fakes, self._reals).mean())

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = batches_done(trainer)
        if self.every_n_steps <= 0 or step % self.every_n_steps:
            return
        value = self.measure(trainer, pl_module)
        for logger in trainer.loggers:
            logger.log_metrics({"val/ssim": value}, step=step)
        if trainer.is_global_zero:
            self.dirpath.mkdir(parents=True, exist_ok=True)
            path = self.dirpath / "ssim.csv"
            new = not path.exists()
            with path.open("a", newline="") as f:
                writer = csv.writer(f)
                if new:
                    writer.writerow(["step", "epoch", "ssim"])
                writer.writerow([step, trainer.current_epoch + 1, f"{value:.6f}"])
