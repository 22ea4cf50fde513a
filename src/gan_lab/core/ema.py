"""Exponential moving average of G's weights (and BatchNorm statistics), with warm-up.

Built on torch.optim.swa_utils.AveragedModel. Two ways to say how long it remembers:

- a decay per update (``model.ema=0.999``), grown as min(decay, (1+n)/(10+n)) with the number n
  of updates, so early averages follow the young generator instead of its random start;
- a half-life in images (``model.ema=half_life``, ``model.ema_images``; StyleGAN2-ADA's
  ema_kimg): the decay per update is 0.5^(images per update / half-life), which does not change
  with the batch size, and with ``model.ema_rampup`` the half-life is at most that share of the
  images seen so far, so the average never lags behind a short run (ema_rampup).
"""

import itertools
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


class Averaged(AveragedModel):
    """AveragedModel (use_buffers=True) that finds its tensors and the live generator's once, not
    at every update: AveragedModel walks both networks, detaches, moves and groups every tensor
    each step (an update of the 28-px digits G: 0.153 ms that way, 0.079 ms this way, one core of
    an AVX-512 BF16 EPYC; benchmarks/README.md, "Every millisecond of the step"). The same
    updates, bit for bit.

    A move of either network (``.to()``: a device, a memory format) gives its buffers new
    tensors, so the owner calls ``forget()`` after anything that may move them (the GAN module:
    at every epoch's start; a roll-back loads its weights in place and moves nothing)."""

    def forget(self) -> None:
        self._pairs: tuple[nn.Module, list] | None = None

    def _groups(self, model: nn.Module) -> list | None:
        """[(averaged tensors, live tensors)] per (device, dtype), in AveragedModel's order;
        None where the two are on different devices (AveragedModel's own update then)."""
        if getattr(self, "_pairs", None) is not None and self._pairs[0] is model:
            return self._pairs[1]
        mine = itertools.chain(self.module.parameters(), self.module.buffers())
        theirs = itertools.chain(model.parameters(), model.buffers())
        groups: dict = {}
        for a, m in zip(mine, theirs, strict=True):
            if a.device != m.device:
                return None
            pair = groups.setdefault((a.device, a.dtype), ([], []))
            pair[0].append(a.detach())
            pair[1].append(m.detach())
        self._pairs = model, list(groups.values())
        return self._pairs[1]

    def update_parameters(self, model: nn.Module) -> None:
        groups = self._groups(model)
        if groups is None:
            super().update_parameters(model)
            return
        if self.n_averaged == 0:  # the first update copies, as AveragedModel's
            for averaged, live in groups:
                torch._foreach_copy_(averaged, live)
        else:
            for averaged, live in groups:
                self.multi_avg_fn(averaged, live, self.n_averaged)
        self.n_averaged += 1


def make_ema(generator: nn.Module, decay: "float | HalfLife") -> Averaged:
    # A partial of a module-level function, not a closure: DDP's spawn start pickles the model.
    ema = Averaged(generator, multi_avg_fn=partial(_average, decay), use_buffers=True)
    ema.requires_grad_(False)
    return ema
