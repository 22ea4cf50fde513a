"""How alike images are: SSIM between generated and training images (004), and the spread of a
set of samples (the collapse check)."""

import torch
import torch.nn.functional as F

from gan_lab.metrics.images import as_unit, rows_per_chunk


def _filter_matrix(size: int, kernel: torch.Tensor) -> torch.Tensor:
    """The 'valid' 1-D convolution of a reflect-padded axis as a (size × padded size) matrix."""
    k = len(kernel)
    m = torch.zeros(size, size + k - 1, dtype=kernel.dtype, device=kernel.device)
    for i in range(size):
        m[i, i : i + k] = kernel
    return m


def _gaussian(size: int, dtype, device, kernel_size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """The Gaussian blur of one reflect-padded axis of ``size`` pixels, as a matrix."""
    t = torch.arange(kernel_size, dtype=dtype, device=device) - (kernel_size - 1) / 2
    kernel = torch.exp(-(t**2) / (2 * sigma**2))
    return _filter_matrix(size, kernel / kernel.sum())


@torch.no_grad()
def pairwise_ssim(
    fakes: torch.Tensor,
    reals: torch.Tensor,
    kernel_size: int = 11,
    sigma: float = 1.5,
    dtype: torch.dtype = torch.float32,
    chunk: int | None = None,
):
    """F×R matrix of SSIM(fake_i, real_j) for images in [0, 1] (or uint8, 0–255).

    Same definition and constants as torchmetrics' ``structural_similarity_index_measure``
    (Gaussian 11/1.5, reflect padding, k1=0.01, k2=0.03, mean over channels and pixels), but
    pairwise with the per-image statistics shared: many times faster than calling it on every pair.
    Computed in ``dtype``: float32 is within 2e-5 of float64 (1e-5 on flat or blurred images,
    2e-7 on noise) and 1.5–3.7× faster on a CPU (32 × 128 images: 0.23 s against 0.85 s at 32 px
    RGB, 0.33 against 1.13 at 64 px grey; one core of an AVX-512 EPYC shared with a training
    run) — the training curve measures it every 100 steps.

    The reals are taken ``chunk`` at a time (default: ``rows_per_chunk``, about 16 MB of floats
    per map): each fake's products with all 128 reals at once held 1 GB at 256 px.
    """
    pad = (kernel_size - 1) // 2
    chunk = chunk or rows_per_chunk(reals.shape[1:])
    g_h = _gaussian(fakes.shape[-2], dtype, fakes.device, kernel_size, sigma)
    g_w = _gaussian(fakes.shape[-1], dtype, fakes.device, kernel_size, sigma).T
    c1, c2 = 0.01**2, 0.03**2

    def _blur(x: torch.Tensor) -> torch.Tensor:  # separable Gaussian as two matrix products: fast
        return g_h @ x @ g_w

    def _padded(x: torch.Tensor) -> torch.Tensor:
        return F.pad(as_unit(x, dtype), (pad,) * 4, mode="reflect")

    fakes = _padded(fakes)
    mu_f = _blur(fakes)
    var_f = (_blur(fakes * fakes) - mu_f**2).clamp(min=0)
    out = torch.empty(len(fakes), len(reals), dtype=dtype, device=fakes.device)
    for start in range(0, len(reals), chunk):
        block = _padded(reals[start : start + chunk])
        mu_r = _blur(block)
        var_r = (_blur(block * block) - mu_r**2).clamp(min=0)
        cols = slice(start, start + len(block))
        for i in range(len(fakes)):
            cov = _blur(fakes[i : i + 1] * block) - mu_f[i : i + 1] * mu_r
            num = (2 * mu_f[i : i + 1] * mu_r + c1) * (2 * cov + c2)
            den = (mu_f[i : i + 1] ** 2 + mu_r**2 + c1) * (var_f[i : i + 1] + var_r + c2)
            out[i, cols] = (num / den).flatten(1).mean(1)
    return out


@torch.no_grad()
def paired_ssim(
    a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype = torch.float32, chunk: int | None = None
):
    """SSIM(a_i, b_i) for each pair of rows: the diagonal of ``pairwise_ssim`` (same definition
    and constants) without the rest of the matrix; the memorisation gallery's column. Images in
    [0, 1] or uint8 (0–255), ``chunk`` pairs at a time (default: ``rows_per_chunk``): the whole
    set at once held a dozen float maps of it, 2.4 GB for 300 pairs at 256 px."""
    if not len(a):
        return torch.empty(0)
    chunk = chunk or rows_per_chunk(a.shape[1:])
    pad = 5  # the 11-pixel Gaussian of pairwise_ssim's defaults
    g_h = _gaussian(a.shape[-2], dtype, a.device)
    g_w = _gaussian(a.shape[-1], dtype, a.device).T

    def _blur(x: torch.Tensor) -> torch.Tensor:
        return g_h @ x @ g_w

    c1, c2 = 0.01**2, 0.03**2
    out = torch.empty(len(a), dtype=dtype, device=a.device)
    for start in range(0, len(a), chunk):
        x = F.pad(as_unit(a[start : start + chunk], dtype), (pad,) * 4, mode="reflect")
        y = F.pad(as_unit(b[start : start + chunk], dtype), (pad,) * 4, mode="reflect")
        mu_x, mu_y = _blur(x), _blur(y)
        var_x = (_blur(x * x) - mu_x**2).clamp(min=0)
        var_y = (_blur(y * y) - mu_y**2).clamp(min=0)
        cov = _blur(x * y) - mu_x * mu_y
        num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
        den = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
        out[start : start + len(x)] = (num / den).flatten(1).mean(1)
    return out


def best_ssim(fakes: torch.Tensor, reals: torch.Tensor) -> torch.Tensor:
    """Per fake image, the highest SSIM against any of the reals."""
    return pairwise_ssim(fakes, reals).max(dim=1).values


def diversity(images: torch.Tensor) -> float:
    """Mean pairwise L2 distance between images (flattened), a cheap spread measure."""
    flat = images.flatten(1).float()
    return torch.cdist(flat, flat).sum().item() / max(len(flat) * (len(flat) - 1), 1)
