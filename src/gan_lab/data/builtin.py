"""The built-in set: labelled, procedurally drawn shapes that need no download.

Five classes (circle, square, triangle, ring, cross), each in its own hue family
(red, yellow, green, blue, magenta, jittered) on a dark, low-saturation background,
with random position, size and rotation. The class shows in shape *and* colour,
so a per-class sample grid can be checked at a glance.
Simple enough to be learnt in minutes on a CPU, varied enough that a collapsed
generator is easy to spot. Drawn by signed-area tests at 2× and averaged down
(anti-aliasing), deterministically from a seed.
"""

import math

import torch
import torch.nn.functional as F

CLASSES = ("circle", "square", "triangle", "ring", "cross")


def _hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """(N,) tensors in [0, 1] → (N, 3) RGB in [0, 1]."""
    k = torch.stack([(5 + h * 6) % 6, (3 + h * 6) % 6, (1 + h * 6) % 6], dim=1)
    return v[:, None] - v[:, None] * s[:, None] * (torch.minimum(k, 4 - k).clamp(0, 1))


def _masks(label: torch.Tensor, x: torch.Tensor, y: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Inside-the-shape masks; x, y are (N, H, W) coordinates in each shape's own frame."""
    d2 = x**2 + y**2
    r = r[:, None, None]
    circle = d2 <= r**2
    square = torch.maximum(x.abs(), y.abs()) <= 0.8 * r
    # Equilateral triangle of circumradius r: three half-planes at the inradius r/2.
    tri = torch.ones_like(circle)
    for a in (math.pi / 2 * 3, math.pi / 6, math.pi / 6 * 5):
        tri &= x * math.cos(a) + y * math.sin(a) <= r / 2
    ring = (d2 <= r**2) & (d2 >= (0.55 * r) ** 2)
    arm = 0.3 * r
    cross = ((x.abs() <= arm) & (y.abs() <= r)) | ((y.abs() <= arm) & (x.abs() <= r))
    stack = torch.stack([circle, square, tri, ring, cross], dim=1)  # (N, 5, H, W)
    return stack.gather(1, label[:, None, None, None].expand(-1, 1, *x.shape[1:]))[:, 0]


def make_shapes(
    n: int, image_size: int = 32, channels: int = 3, seed: int = 0, chunk: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (images uint8 (n, channels, size, size), labels int64 (n,)), balanced classes."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % len(CLASSES)
    labels = labels[torch.randperm(n, generator=g)]
    res = 2 * image_size
    axis = (torch.arange(res) + 0.5) / res * 2 - 1
    gy, gx = torch.meshgrid(axis, axis, indexing="ij")
    out = torch.empty(n, channels, image_size, image_size, dtype=torch.uint8)
    for start in range(0, n, chunk):
        lab = labels[start : start + chunk]
        m = len(lab)

        def u(lo, hi, m=m):
            return lo + (hi - lo) * torch.rand(m, generator=g)

        cx, cy, r, theta = u(-0.25, 0.25), u(-0.25, 0.25), u(0.5, 0.8), u(0, 2 * math.pi)
        c, s = torch.cos(theta)[:, None, None], torch.sin(theta)[:, None, None]
        dx, dy = gx - cx[:, None, None], gy - cy[:, None, None]
        x, y = c * dx + s * dy, -s * dx + c * dy
        mask = _masks(lab, x, y, r).float()[:, None]  # (m, 1, res, res)
        fg = _hsv_to_rgb((lab / len(CLASSES) + u(-0.05, 0.05)) % 1.0, u(0.7, 1.0), u(0.8, 1.0))
        bg = _hsv_to_rgb(u(0, 1), u(0.0, 0.3), u(0.05, 0.3))
        img = mask * fg[:, :, None, None] + (1 - mask) * bg[:, :, None, None]
        img = F.avg_pool2d(img, 2)
        if channels == 1:
            img = (img * torch.tensor([0.299, 0.587, 0.114])[None, :, None, None]).sum(
                1, keepdim=True
            )
        out[start : start + m] = (img * 255).round().clamp(0, 255).to(torch.uint8)
    return out, labels
