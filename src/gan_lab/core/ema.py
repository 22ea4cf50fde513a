"""Exponential moving average of G's weights (and BatchNorm statistics), with warm-up.

Built on torch.optim.swa_utils.AveragedModel. Two ways to say how long it remembers:

- a decay per update (``model.ema=0.999``), grown as min(decay, (1+n)/(10+n)) with the number n
  of updates, so early averages follow the young generator instead of its random start;
- a half-life in images (``model.ema=half_life``, ``model.ema_images``; StyleGAN2-ADA's
  ema_kimg): the decay per update is 0.5^(images per update / half-life), which does not change
  with the batch size, and with ``model.ema_rampup`` the half-life is at most that share of the
  images seen so far, so the average never lags behind a short run (ema_rampup).
"""

from functools import partial

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel


def ema_decay(decay: float, n_averaged: int) -> float:
    return min(decay, (1.0 + n_averaged) / (10.0 + n_averaged))


class HalfLife:
    """The decay per update for a half-life in images. ``images_per_update`` (batch × ranks) is
    set when training starts (GAN.setup); a plain class, so DDP's spawn start can pickle it."""

    def __init__(self, images: int, rampup: float):
        self.images, self.rampup, self.images_per_update = int(images), float(rampup), 1

    def __call__(self, n_averaged: int) -> float:
        step = self.images_per_update
        half_life = self.images
        if self.rampup > 0:
            half_life = min(half_life, (n_averaged + 1) * step * self.rampup)
        return 0.5 ** (step / max(half_life, 1e-8))


def _average(
    decay: "float | HalfLife", averaged: list[torch.Tensor], current: list[torch.Tensor], n_averaged
) -> None:
    """One update of every tensor of a device/dtype group in one foreach call, not one Python
    call (and one read of the counter) per tensor: small networks are steps-per-minute bound."""
    n = int(n_averaged)
    d = decay(n) if isinstance(decay, HalfLife) else ema_decay(decay, n)
    if averaged[0].is_floating_point():
        torch._foreach_lerp_(averaged, current, 1.0 - d)
    else:  # BatchNorm's batch counters: kept as AveragedModel keeps them
        for a, c in zip(averaged, current, strict=True):
            a.copy_(a * d + c * (1.0 - d))


HALF_LIFE = "half_life"  # model.ema's value for a half-life in images

# Where a checkpoint keeps each generator's weights (the GAN module's attribute names).
LIVE_PREFIX, EMA_PREFIX = "generator.", "generator_ema.module."


def shown_generator(generator: nn.Module, ema: AveragedModel | None) -> nn.Module:
    """The generator that grids, SSIM, the collapse check, metrics, sampling and inversion use:
    the average when the run keeps one (it is what the run produces), else the live one."""
    return generator if ema is None else ema.module


def shown_prefix(state_dict: dict) -> str:
    """The same choice for a checkpoint's state dict."""
    return EMA_PREFIX if any(k.startswith(EMA_PREFIX) for k in state_dict) else LIVE_PREFIX


def make_ema(generator: nn.Module, decay: "float | HalfLife") -> AveragedModel:
    # A partial of a module-level function, not a closure: DDP's spawn start pickles the model.
    ema = AveragedModel(generator, multi_avg_fn=partial(_average, decay), use_buffers=True)
    ema.requires_grad_(False)
    return ema
