"""Latent distributions (002 compares them): the `noise` config group builds one of these."""

import torch
from torch import distributions as dist


class Noise:
    """Draws latent vectors of shape (n, dim) on any device."""

    name = "noise"

    def distribution(self, device: torch.device | str) -> dist.Distribution:
        raise NotImplementedError

    def sample(self, n: int, dim: int, device: torch.device | str = "cpu") -> torch.Tensor:
        return self.distribution(device).sample((n, dim))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


def _t(value: float, device) -> torch.Tensor:
    return torch.tensor(float(value), device=device)


class Normal(Noise):
    """N(mean, std); the default N(0, 1) is what 003 asks for."""

    def __init__(self, mean: float = 0.0, std: float = 1.0):
        self.mean, self.std = mean, std

    def distribution(self, device):
        return dist.Normal(_t(self.mean, device), _t(self.std, device))

    def sample(self, n: int, dim: int, device: torch.device | str = "cpu") -> torch.Tensor:
        # The same numbers as distribution(device).sample((n, dim)) — torch.normal draws N(0, 1)
        # and scales it — without building a Distribution and two tensors at every draw (twice a
        # training step: ~0.05 ms, benchmarks/README.md "Every millisecond of the step").
        z = torch.randn(n, dim, device=device)
        return z if (self.mean, self.std) == (0.0, 1.0) else z * self.std + self.mean


class Uniform(Noise):
    """U(low, high), default U(-1, 1)."""

    def __init__(self, low: float = -1.0, high: float = 1.0):
        self.low, self.high = low, high

    def distribution(self, device):
        return dist.Uniform(_t(self.low, device), _t(self.high, device))


class Gamma(Noise):
    """Γ(k, θ) with shape k and scale θ, default Γ(2, 1); always positive."""

    def __init__(self, shape: float = 2.0, scale: float = 1.0):
        self.shape, self.scale = shape, scale

    def distribution(self, device):
        return dist.Gamma(_t(self.shape, device), 1.0 / _t(self.scale, device))
