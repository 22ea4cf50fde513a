"""Shared building bricks: padding rules, activations, normalisation."""

import math

import torch
from torch import nn

from gan_lab.errors import UserError


def same_padding(kernel_size: int) -> int:
    """Padding that makes a stride-2 conv halve (and a stride-1 conv keep) an even size."""
    return (kernel_size - 1) // 2


def transposed_padding(kernel_size: int) -> tuple[int, int]:
    """(padding, output_padding) that make a stride-2 ConvTranspose2d double the size exactly."""
    padding = (kernel_size - 1) // 2
    return padding, 2 + 2 * padding - kernel_size


# The names a config may choose (gan_lab.config.schema checks them before anything is built).
ACTIVATIONS = {"leaky_relu": nn.LeakyReLU, "relu": nn.ReLU}
# LeakyReLU's negative slope unless generator.slope / discriminator.slope say otherwise: DCGAN's
# 0.2, the value of every run and checkpoint before the key (which then builds the same network).
SLOPE = 0.2
OUTPUT_ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
# The pixel range each output activation produces; real data are scaled to match (design §3).
OUTPUT_RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}


def activation(name: str, slope: float = SLOPE) -> nn.Module:
    return nn.LeakyReLU(slope) if name == "leaky_relu" else ACTIVATIONS[name]()


def check_slope(network: str, name: str, slope: float) -> None:
    """A slope other than the default where no LeakyReLU uses it would change nothing: said."""
    if name != "leaky_relu" and slope != SLOPE:
        raise UserError(
            f"{network}.slope={slope:g} is LeakyReLU's negative slope, but this {network} uses "
            f"{network}.activation_name={name}: the slope would change nothing. Add "
            f"{network}.activation_name=leaky_relu, or leave {network}.slope at {SLOPE:g}."
        )


def output_activation(name: str) -> nn.Module:
    return OUTPUT_ACTIVATIONS[name]()


def output_range(name: str) -> tuple[float, float]:
    return OUTPUT_RANGES[name]


def extra_blocks(image_size: int, base_size: int) -> int:
    """Stride-2 blocks to add (>0) or remove (<0) to go from base_size to image_size.

    Rounded: a size between two powers of two (28 vs 32) is absorbed by the
    layer next to the image (a flattening head, or the padding of G's last layer).
    """
    return round(math.log2(image_size / base_size))


def maybe_spectral(module: nn.Module, enabled: bool) -> nn.Module:
    # The hook-based spectral_norm, not torch.nn.utils.parametrizations': parametrized modules
    # cannot be pickled, and DDP's spawn start method pickles the whole model to its ranks.
    return nn.utils.spectral_norm(module) if enabled else module


class ClassBatchNorm2d(nn.BatchNorm2d):
    """Class-conditional BatchNorm (de Vries et al. 2017; the generator of Miyato & Koyama 2018):
    normalise with the batch statistics, then scale and shift with a gain and bias learnt per
    class, so every block of G hears the label, not just its input. Starts as plain BatchNorm
    (gains 1, biases 0)."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__(channels, affine=False)
        self.gain = nn.Embedding(num_classes, channels)
        self.shift = nn.Embedding(num_classes, channels)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = super().forward(x)
        gain, shift = (e(y)[:, :, None, None].to(h.dtype) for e in (self.gain, self.shift))
        return h * gain + shift


class Upsample2x(nn.Upsample):
    """Nearest ×2, as ``nn.Upsample``; a pass-through when the next convolution does the
    upsampling itself (``UpsampledConv2d.fused``). No parameters, so the state dict is the same."""

    def __init__(self):
        super().__init__(scale_factor=2, mode="nearest")
        self.skip = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.skip else super().forward(x)


class UpsampledConv2d(nn.Conv2d):
    """A stride-1 "same" convolution after a nearest ×2 upsampling (``Upsample2x``).

    With ``fused`` it takes the small map and computes the same output without making the
    upsampled one: each of the four output phases (even/odd row × even/odd column) sees only
    ⌊k/2⌋+1 distinct input pixels per axis, so a k×k kernel folds into four small kernels
    (sums of its taps) — for k=3, 16 instead of 36 multiply-adds per input pixel and channel
    pair. Same weights, same result up to float rounding; the fast path (gan_lab.training.fast_path)
    switches it on where it times faster.
    """

    fused = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.fused:
            return super().forward(x)
        b, _, h, w = x.shape
        k = self.kernel_size[0]
        # Interleave in the input's layout, so the result keeps it without another copy.
        nhwc = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
        rows = []
        for fold_a, top, bottom in _phase_folds(k, x.device, x.dtype):
            cols = []
            for fold_b, left, right in _phase_folds(k, x.device, x.dtype):
                kernel = torch.einsum("dk,oikl,el->oide", fold_a, self.weight, fold_b)
                padded = nn.functional.pad(x, (left, right, top, bottom))
                y = nn.functional.conv2d(padded, kernel.to(x.dtype), self.bias)
                cols.append(y.permute(0, 2, 3, 1) if nhwc else y)  # B, H, W, C  or  B, C, H, W
            rows.append(torch.stack(cols, 3 if nhwc else -1))  # ... with the column phase after W
        if nhwc:  # B, H, row phase, W, column phase, C → B, 2H, 2W, C, seen as NCHW
            out = torch.stack(rows, 2).reshape(b, 2 * h, 2 * w, -1)
            return out.permute(0, 3, 1, 2)
        # B, C, H, row phase, W, column phase → the interleaved 2H × 2W image
        return torch.stack(rows, 3).reshape(b, -1, 2 * h, 2 * w)

    def can_fuse(self) -> bool:
        k = self.kernel_size
        return (
            k[0] == k[1]
            and self.stride == (1, 1)
            and self.dilation == (1, 1)
            and self.groups == 1
            and self.padding == "same"
            and self.padding_mode == "zeros"
        )


def _phase_folds(k: int, device, dtype) -> list[tuple[torch.Tensor, int, int]]:
    """Per output phase a ∈ {0, 1} along one axis: the 0/1 matrix folding the kernel's k taps
    onto the distinct input offsets they read, and the padding before/after that offset range.

    Output pixel 2i+a of a "same" conv (left padding (k-1)//2) over the upsampled map reads tap
    t at upsampled position 2i+a+t-(k-1)//2, i.e. input pixel i + ⌊(a+t-(k-1)//2)/2⌋.
    """
    folds = []
    for a in (0, 1):
        offsets = [(a + t - (k - 1) // 2) // 2 for t in range(k)]
        lo, hi = min(offsets), max(offsets)
        fold = torch.zeros(hi - lo + 1, k, device=device, dtype=dtype)
        fold[torch.tensor(offsets) - lo, torch.arange(k)] = 1
        folds.append((fold, -lo, hi))
    return folds
