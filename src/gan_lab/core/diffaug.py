"""Differentiable augmentation (Zhao et al., "Differentiable Augmentation for Data-Efficient GAN
Training", 2020): the same random colour / translation / cutout is applied to every image D sees,
real or fake, in both phases, so D cannot memorise a tiny set and G still gets gradients.
Each op draws its parameters per image and is differentiable w.r.t. the images.
"""

import torch
import torch.nn.functional as F

from gan_lab.errors import UserError


def color(x: torch.Tensor) -> torch.Tensor:
    """Random brightness (±0.5), saturation (×0..2) and contrast (×0.5..1.5), per image."""
    n = x.shape[0]
    r = lambda: torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype)  # noqa: E731
    x = x + (r() - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (r() * 2) + mean
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (r() + 0.5) + mean


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ratio·size pixels, filling with zeros (a differentiable gather)."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    gy, gx = torch.meshgrid(
        torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij"
    )
    yy = (gy[None] + dy + 1).clamp(0, h + 1)
    xx = (gx[None] + dx + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])
    idx = (yy * (w + 2) + xx).view(n, 1, -1).expand(-1, x.shape[1], -1)
    return padded.flatten(2).gather(2, idx).view_as(x)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero one random square of ratio·size per image."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device)
    gy, gx = torch.meshgrid(
        torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij"
    )
    inside = ((gy[None] - cy).abs() < ch / 2) & ((gx[None] - cx).abs() < cw / 2)
    return x * (~inside).unsqueeze(1).to(x.dtype)


OPS = {"color": color, "translation": translation, "cutout": cutout}


def parse_policy(policy: str | list | None) -> list:
    if not policy:
        return []
    names = [n.strip() for n in (policy.split(",") if isinstance(policy, str) else list(policy))]
    unknown = [n for n in names if n not in OPS]
    if unknown:  # gan_lab.config.schema refuses these first; this is for GAN(...) built in code
        raise UserError(f"unknown op {', '.join(unknown)}: the ops are {', '.join(OPS)}.")
    return [OPS[n] for n in names]


def diff_augment(x: torch.Tensor, ops: list) -> torch.Tensor:
    for op in ops:
        x = op(x)
    return x
