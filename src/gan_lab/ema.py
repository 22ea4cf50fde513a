"""Exponential moving average of G's weights (and BatchNorm statistics), with warm-up.

Built on torch.optim.swa_utils.AveragedModel. The decay grows as min(decay, (1+n)/(10+n))
with the number n of updates, so early averages follow the young generator instead of
staying stuck near its random initialisation.
"""

from functools import partial

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel


def ema_decay(decay: float, n_averaged: int) -> float:
    return min(decay, (1.0 + n_averaged) / (10.0 + n_averaged))


def _average(
    decay: float, averaged: torch.Tensor, current: torch.Tensor, num_averaged
) -> torch.Tensor:
    d = ema_decay(decay, int(num_averaged))
    return averaged * d + current.detach() * (1.0 - d)


# Where a checkpoint keeps each generator's weights (the GAN module's attribute names).
LIVE_PREFIX, EMA_PREFIX = "generator.", "generator_ema.module."


def shown_generator(generator: nn.Module, ema: AveragedModel | None) -> nn.Module:
    """The generator that grids, SSIM, the collapse check, metrics, sampling and inversion use:
    the average when the run keeps one (it is what the run produces), else the live one."""
    return generator if ema is None else ema.module


def shown_prefix(state_dict: dict) -> str:
    """The same choice for a checkpoint's state dict."""
    return EMA_PREFIX if any(k.startswith(EMA_PREFIX) for k in state_dict) else LIVE_PREFIX


def make_ema(generator: nn.Module, decay: float) -> AveragedModel:
    # A partial of a module-level function, not a closure: DDP's spawn start pickles the model.
    ema = AveragedModel(generator, avg_fn=partial(_average, decay), use_buffers=True)
    ema.requires_grad_(False)
    return ema
