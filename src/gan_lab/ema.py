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


def make_ema(generator: nn.Module, decay: float) -> AveragedModel:
    # A partial of a module-level function, not a closure: DDP's spawn start pickles the model.
    ema = AveragedModel(generator, avg_fn=partial(_average, decay), use_buffers=True)
    ema.requires_grad_(False)
    return ema
