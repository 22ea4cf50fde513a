"""How alike images are: SSIM between generated and training images (004), and the spread of a
set of samples (the collapse check)."""

import torch
import torch.nn.functional as F


def _filter_matrix(size: int, kernel: torch.Tensor) -> torch.Tensor:
    """The 'valid' 1-D convolution of a reflect-padded axis as a (size × padded size) matrix."""
    k = len(kernel)
    m = torch.zeros(size, size + k - 1, dtype=kernel.dtype, device=kernel.device)
    for i in range(size):
        m[i, i : i + k] = kernel
    return m


@torch.no_grad()
def pairwise_ssim(
    fakes: torch.Tensor,
    reals: torch.Tensor,
    kernel_size: int = 11,
    sigma: float = 1.5,
    dtype: torch.dtype = torch.float32,
):
    """F×R matrix of SSIM(fake_i, real_j) for images in [0, 1].

    Same definition and constants as torchmetrics' ``structural_similarity_index_measure``
    (Gaussian 11/1.5, reflect padding, k1=0.01, k2=0.03, mean over channels and pixels), but
    pairwise with the per-image statistics shared: many times faster than calling it on every pair.
    Computed in ``dtype``: float32 is within 2e-5 of float64 (1e-5 on flat or blurred images,
    2e-7 on noise) and 1.5–3.7× faster on a CPU (32 × 128 images: 0.23 s against 0.85 s at 32 px
    RGB, 0.33 against 1.13 at 64 px grey; one core of an AVX-512 EPYC shared with a training
    run) — the training curve measures it every 100 steps.
    """
    pad = (kernel_size - 1) // 2
    fakes = F.pad(fakes.to(dtype), (pad,) * 4, mode="reflect")
    reals = F.pad(reals.to(dtype), (pad,) * 4, mode="reflect")
    half = (kernel_size - 1) / 2
    t = torch.arange(kernel_size, dtype=dtype, device=fakes.device) - half
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
    out = torch.empty(len(fakes), len(reals), dtype=dtype, device=fakes.device)
    for i in range(len(fakes)):
        cov = _blur(fakes[i : i + 1] * reals) - mu_f[i : i + 1] * mu_r
        num = (2 * mu_f[i : i + 1] * mu_r + c1) * (2 * cov + c2)
        den = (mu_f[i : i + 1] ** 2 + mu_r**2 + c1) * (var_f[i : i + 1] + var_r + c2)
        out[i] = (num / den).flatten(1).mean(1)
    return out


@torch.no_grad()
def paired_ssim(a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype = torch.float32):
    """SSIM(a_i, b_i) for each pair of rows: the diagonal of ``pairwise_ssim`` (same definition
    and constants) without the rest of the matrix; the memorisation gallery's column."""
    if not len(a):
        return torch.empty(0)
    pad = 5  # the 11-pixel Gaussian of pairwise_ssim's defaults
    a = F.pad(a.to(dtype), (pad,) * 4, mode="reflect")
    b = F.pad(b.to(dtype), (pad,) * 4, mode="reflect")
    t = torch.arange(11, dtype=dtype, device=a.device) - 5
    kernel = torch.exp(-(t**2) / (2 * 1.5**2))
    kernel = kernel / kernel.sum()
    g_h = _filter_matrix(a.shape[-2] - 2 * pad, kernel)
    g_w = _filter_matrix(a.shape[-1] - 2 * pad, kernel).T

    def _blur(x: torch.Tensor) -> torch.Tensor:
        return g_h @ x @ g_w

    mu_a, mu_b = _blur(a), _blur(b)
    var_a = (_blur(a * a) - mu_a**2).clamp(min=0)
    var_b = (_blur(b * b) - mu_b**2).clamp(min=0)
    cov = _blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return (num / den).flatten(1).mean(1)


def best_ssim(fakes: torch.Tensor, reals: torch.Tensor) -> torch.Tensor:
    """Per fake image, the highest SSIM against any of the reals."""
    return pairwise_ssim(fakes, reals).max(dim=1).values


def diversity(images: torch.Tensor) -> float:
    """Mean pairwise L2 distance between images (flattened), a cheap spread measure."""
    flat = images.flatten(1).float()
    return torch.cdist(flat, flat).sum().item() / max(len(flat) * (len(flat) - 1), 1)
