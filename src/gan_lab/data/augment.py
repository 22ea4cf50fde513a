"""Safe augmentation of whole batches on the training device (003 §5).

torchvision's v2 transforms draw one set of random parameters per call, i.e. per
batch; a GAN needs them per image, so flips, zoom and rotation are folded into
one affine grid per image and applied with a single grid_sample.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.utils import make_grid


class BatchAugment(nn.Module):
    """Random horizontal flip, zoom-in by up to ``zoom`` and rotation by up to ``rotate`` degrees.

    Zooming only *in* and reflecting at the borders keeps the augmented image free of
    black corners a generator would learn to copy.
    """

    def __init__(self, flip: bool = True, zoom: float = 0.1, rotate: float = 10.0):
        super().__init__()
        self.flip, self.zoom, self.rotate = flip, zoom, rotate

    @property
    def active(self) -> bool:
        return self.flip or self.zoom > 0 or self.rotate > 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.active:
            return x
        n, dev = x.shape[0], x.device
        angle = (torch.rand(n, device=dev) * 2 - 1) * math.radians(self.rotate)
        scale = 1.0 / (1.0 + torch.rand(n, device=dev) * self.zoom)  # <1: sample a smaller area
        flip = (
            torch.where(torch.rand(n, device=dev) < 0.5, -1.0, 1.0)
            if self.flip
            else torch.ones(n, device=dev)
        )
        cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
        zero = torch.zeros_like(cos)
        theta = torch.stack(
            [torch.stack([cos * flip, -sin, zero], 1), torch.stack([sin * flip, cos, zero], 1)], 1
        )
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(
            x, grid.to(x.dtype), mode="bilinear", padding_mode="reflection", align_corners=False
        )


def augment_grid(images: torch.Tensor, augment: BatchAugment, copies: int) -> torch.Tensor:
    """003 §5.1's check: rows of the original uint8 image, then ``copies`` augmented versions of
    it, as one [0, 1] grid (the preview tool and the run's report show it)."""
    x = images.float() / 255.0
    rows = [
        torch.cat([img[None], augment(img[None].expand(copies, -1, -1, -1).clone())]) for img in x
    ]
    return make_grid(torch.cat(rows), nrow=copies + 1, padding=2).clamp(0, 1)
