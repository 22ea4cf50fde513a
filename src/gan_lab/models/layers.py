"""Shared building bricks: padding rules, activations, normalisation."""

import math

from torch import nn

from gan_lab.errors import UserError


def same_padding(kernel_size: int) -> int:
    """Padding that makes a stride-2 conv halve (and a stride-1 conv keep) an even size."""
    return (kernel_size - 1) // 2


def transposed_padding(kernel_size: int) -> tuple[int, int]:
    """(padding, output_padding) that make a stride-2 ConvTranspose2d double the size exactly."""
    padding = (kernel_size - 1) // 2
    return padding, 2 + 2 * padding - kernel_size


def activation(name: str) -> nn.Module:
    if name == "leaky_relu":
        return nn.LeakyReLU(0.2)
    if name == "relu":
        return nn.ReLU()
    raise UserError(f"unknown activation '{name}': use leaky_relu or relu.")


def output_activation(name: str) -> nn.Module:
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "tanh":
        return nn.Tanh()
    raise UserError(f"unknown generator.out_activation '{name}': use sigmoid or tanh.")


def output_range(name: str) -> tuple[float, float]:
    """The pixel range an output activation produces; real data are scaled to match (design §3)."""
    output_activation(name)  # a clear error for an unknown name
    return (0.0, 1.0) if name == "sigmoid" else (-1.0, 1.0)


def extra_blocks(image_size: int, base_size: int) -> int:
    """Stride-2 blocks to add (>0) or remove (<0) to go from base_size to image_size.

    Rounded: a size between two powers of two (28 vs 32) is absorbed by the
    layer next to the image (a flattening head, or the padding of G's last layer).
    """
    if image_size < 8:
        raise UserError(f"data.image_size={image_size} is too small; use 16 or more.")
    return round(math.log2(image_size / base_size))


def maybe_spectral(module: nn.Module, enabled: bool) -> nn.Module:
    # The hook-based spectral_norm, not torch.nn.utils.parametrizations': parametrized modules
    # cannot be pickled, and DDP's spawn start method pickles the whole model to its ranks.
    return nn.utils.spectral_norm(module) if enabled else module
