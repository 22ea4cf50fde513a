"""One configurable generator; the presets in conf/generator/ fix its shape."""

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from gan_lab.errors import UserError
from gan_lab.models.init import init_weights
from gan_lab.models.layers import (
    SLOPE,
    ClassBatchNorm2d,
    Upsample2x,
    UpsampledConv2d,
    activation,
    check_slope,
    extra_blocks,
    maybe_spectral,
    output_activation,
    output_range,
    transposed_padding,
)

# The names a config may choose (gan_lab.config.schema checks them before anything is built).
PROJECTIONS = ("linear", "convt")
UPSAMPLINGS = ("transposed", "nearest")
CONDITIONINGS = ("concat", "batchnorm")


class Generator(nn.Module):
    """Latent vector → projection to a small map → ×2 upsampling blocks → image.

    - ``project='linear'``: Linear(z → C·s·s), no activation, reshaped (003 §2);
      ``'convt'``: z as N×z×1×1 through ConvTranspose(kernel s) (DCGAN, 004).
    - ``upsample='transposed'``: ConvTranspose(k, stride 2, "same") per block (003 §2);
      ``'nearest'``: nearest ×2 then ``convs_per_block`` × Conv(k, "same") (003 §11),
      which avoids the checkerboard artefacts of strided transposed convolutions.
    - ``out_kernel_size > 0``: a final Conv(k, stride 1) to the image channels (003);
      ``0``: the last upsampling layer itself outputs the image (DCGAN, 004), its
      padding chosen to land exactly on ``image_size`` (28 for MNIST).

    ``channels`` are written for ``base_size`` images; at other sizes blocks are
    added (repeating ``channels[-1]``) or removed at the image end.
    """

    def __init__(
        self,
        latent_dim: int = 128,
        out_channels: int = 3,
        image_size: int = 64,
        base_size: int = 64,
        project: str = "linear",
        project_channels: int = 128,
        start_size: int = 8,
        channels: Sequence[int] = (128, 256, 512),
        kernel_size: int = 4,
        upsample: str = "transposed",
        convs_per_block: int = 2,
        batch_norm: bool = False,
        spectral_norm: bool = False,
        activation_name: str = "leaky_relu",
        slope: float = SLOPE,
        bias: bool = True,
        out_kernel_size: int = 5,
        out_activation: str = "sigmoid",
        init: str = "default",
        num_classes: int = 0,
        class_embed_dim: int = 32,
        conditioning: str = "concat",
    ):
        super().__init__()
        check_slope("generator", activation_name, slope)
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        # cGAN (001, design §2.6): the label's embedding is concatenated to z.
        self.embed = nn.Embedding(num_classes, class_embed_dim) if num_classes else None
        z_in = latent_dim + (class_embed_dim if num_classes else 0)
        self.out_activation = out_activation
        self.image_shape = (out_channels, image_size, image_size)
        channels = list(channels)
        n = extra_blocks(image_size, base_size)
        if n > 0:
            channels = channels + [channels[-1]] * n
        elif n < 0:
            if len(channels) + n < (0 if out_kernel_size == 0 else 1):
                raise UserError(f"data.image_size={image_size} is too small for this generator.")
            channels = channels[:n]

        if out_kernel_size > 0 and start_size * 2 ** len(channels) != image_size:
            # A size that is not start_size × 2ⁿ (28 px digits from a 4×4 start): start from the
            # largest map that doubles onto it exactly (7×7 for 28), with fewer blocks, keeping
            # the channels next to the image.
            n = len(channels)
            while n > 0 and image_size % 2**n:
                n -= 1
            if n > 0 and image_size // 2**n <= 2 * start_size:
                start_size, channels = image_size // 2**n, channels[len(channels) - n :]
        sn = spectral_norm
        norm = self._norm_maker(batch_norm, num_classes, conditioning)
        if project == "linear":
            self.project = nn.Sequential(
                maybe_spectral(nn.Linear(z_in, project_channels * start_size**2), sn),
                nn.Unflatten(1, (project_channels, start_size, start_size)),
            )
        else:  # convt
            self.project = nn.Sequential(
                nn.Unflatten(1, (z_in, 1, 1)),
                maybe_spectral(
                    nn.ConvTranspose2d(z_in, project_channels, start_size, 1, 0, bias=bias),
                    sn,
                ),
                norm(project_channels),
                activation(activation_name, slope),
            )

        blocks: list[nn.Module] = []
        block_sizes = []  # layers per upsampling block: stages() groups self.blocks by them
        c_in, size = project_channels, start_size
        for c in channels:
            before = len(blocks)
            if upsample == "transposed":
                p, op = transposed_padding(kernel_size)
                conv = nn.ConvTranspose2d(c_in, c, kernel_size, 2, p, op, bias=bias)
                blocks += [maybe_spectral(conv, sn), norm(c), activation(activation_name, slope)]
            else:  # nearest
                blocks.append(Upsample2x())
                for j in range(convs_per_block):
                    kind = UpsampledConv2d if j == 0 else nn.Conv2d
                    conv = kind(c_in if j == 0 else c, c, kernel_size, 1, "same", bias=bias)
                    blocks += [
                        maybe_spectral(conv, sn),
                        norm(c),
                        activation(activation_name, slope),
                    ]
            c_in, size = c, size * 2
            block_sizes.append(len(blocks) - before)
        self.blocks = nn.Sequential(*blocks)  # one flat Sequential: checkpoints name its layers
        self.block_sizes = tuple(block_sizes)

        if out_kernel_size > 0:
            if size != image_size:
                raise UserError(
                    f"this generator makes {size}px images (start_size {start_size} doubled "
                    f"{len(channels)} times) but data.image_size={image_size}; use a power-of-two "
                    f"multiple of {start_size}."
                )
            out = nn.Conv2d(c_in, out_channels, out_kernel_size, 1, "same")
        else:  # the last ×2 layer lands exactly on image_size: out = 2·(size-1) - 2p + k + op
            excess = 2 * (size - 1) + kernel_size - image_size
            p = (excess + 1) // 2
            if not 0 <= p < kernel_size:
                raise UserError(
                    f"generator: cannot reach data.image_size={image_size} from a {size}px map "
                    f"with one ×2 layer of kernel {kernel_size}."
                )
            out = nn.ConvTranspose2d(
                c_in, out_channels, kernel_size, 2, p, 2 * p - excess, bias=bias
            )
        self.out = nn.Sequential(maybe_spectral(out, sn), output_activation(out_activation))
        init_weights(self, init)

    def stages(self) -> list[list[nn.Module]]:
        """The network's blocks in order from the latent side: the projection (with the class
        embedding), each ×2 upsampling block, the output layer. model.freeze_g=K freezes the
        first K (gan_lab.models.freeze)."""
        layers, groups, i = list(self.blocks), [], 0
        for n in self.block_sizes:
            groups.append(layers[i : i + n])
            i += n
        first = [self.project] + ([self.embed] if self.embed is not None else [])
        return [first, *groups, [self.out]]

    @staticmethod
    def _norm_maker(batch_norm: bool, num_classes: int, conditioning: str):
        # Conditioning (design §2.6): "concat" = the label's embedding joins z (001's cGAN);
        # "batchnorm" = that, and every BatchNorm gets a gain and shift per class.
        # (conditioning=batchnorm without batch_norm is refused by gan_lab.config.schema.)
        if not batch_norm:
            return lambda c: nn.Identity()
        if num_classes and conditioning == "batchnorm":
            return lambda c: ClassBatchNorm2d(c, num_classes)
        return lambda c: nn.BatchNorm2d(c)

    def can_fuse_upsampling(self) -> bool:
        """Whether fuse_upsampling(True) has anything to fuse (a fast-path candidate)."""
        return any(isinstance(m, UpsampledConv2d) and m.can_fuse() for m in self.modules())

    def fuse_upsampling(self, enabled: bool) -> int:
        """Let each convolution after a nearest ×2 do the upsampling itself (``UpsampledConv2d``:
        fewer multiply-adds, same weights and result up to rounding). Returns how many did."""
        fused, mods = 0, list(self.modules())
        for up, conv in itertools.pairwise(mods):
            if isinstance(up, Upsample2x) and isinstance(conv, UpsampledConv2d):
                on = enabled and conv.can_fuse()
                up.skip = conv.fused = on
                fused += on
        return fused

    @property
    def value_range(self) -> tuple[float, float]:
        """The range of pixel values this generator makes; real data are scaled to match."""
        return output_range(self.out_activation)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            if y is None:
                raise UserError("this generator is conditional: give a class label (e.g. class=3).")
            z = torch.cat([z, self.embed(y).to(z.dtype)], dim=1)
        h = z
        for layer in itertools.chain(self.project, self.blocks):
            h = layer(h, y) if isinstance(layer, ClassBatchNorm2d) else layer(h)
        return self.out(h)


def to_unit(images: torch.Tensor, value_range: tuple[float, float]) -> torch.Tensor:
    """Generator output → [0, 1] (display, PNGs, metrics, reported MSE), whatever the activation."""
    lo, hi = value_range
    return ((images.detach().float() - lo) / (hi - lo)).clamp(0, 1)
