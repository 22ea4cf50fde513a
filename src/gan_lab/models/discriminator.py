"""One configurable convolutional discriminator; the presets in conf/discriminator/ fix its shape."""

from collections.abc import Sequence

import torch
from torch import nn

from gan_lab.errors import UserError
from gan_lab.models.init import init_weights
from gan_lab.models.layers import (
    SLOPE,
    activation,
    check_slope,
    extra_blocks,
    maybe_spectral,
    same_padding,
)

# The names a config may choose (gan_lab.config.schema checks them before anything is built).
HEADS = ("linear", "conv")
CONDITIONINGS = ("projection", "concat")


class Discriminator(nn.Module):
    """Strided conv blocks (Conv → [BatchNorm] → LeakyReLU) and a head that returns one logit.

    The network *means* a probability (sigmoid of the logit); losses work on the
    logit for numerical stability. A two-output head (the MNIST preset's 2-class
    cross-entropy) is reduced to the logit ``out[:, 1] - out[:, 0]``, for which
    softmax cross-entropy and binary cross-entropy are the same function.

    ``channels`` are written for ``base_size`` images. At other sizes stride-2
    blocks are added (repeating ``channels[0]``) or removed at the image end,
    so the head always sees the same resolution as in the preset.
    """

    def __init__(
        self,
        in_channels: int = 3,
        image_size: int = 64,
        base_size: int = 64,
        channels: Sequence[int] = (64, 128, 128),
        kernel_size: int = 4,
        strides: Sequence[int] | None = None,
        paddings: Sequence[int] | None = None,
        batch_norm: bool = True,
        batch_norm_first: bool = True,
        spectral_norm: bool = False,
        activation_name: str = "leaky_relu",
        slope: float = SLOPE,
        bias: bool = True,
        dropout: float = 0.2,
        head: str = "linear",
        out_features: int = 1,
        init: str = "default",
        num_classes: int = 0,
        conditioning: str = "concat",
        class_embed_dim: int = 32,
        class_head: bool = False,
    ):
        super().__init__()
        check_slope("discriminator", activation_name, slope)
        channels = list(channels)
        strides = list(strides) if strides is not None else [2] * len(channels)
        pads = list(paddings) if paddings is not None else [None] * len(channels)
        if not (len(strides) == len(pads) == len(channels)):
            raise UserError("discriminator.strides and .paddings must have one entry per channel.")
        n = extra_blocks(image_size, base_size)
        if n > 0:  # larger images: more stride-2 blocks at the image end
            channels, strides, pads = (
                [channels[0]] * n + channels,
                [2] * n + strides,
                [None] * n + pads,
            )
        elif n < 0:
            if len(channels) + n < 1 or any(s != 2 for s in strides[:-n]):
                raise UserError(
                    f"data.image_size={image_size} is too small for this discriminator."
                )
            channels, strides, pads = channels[-n:], strides[-n:], pads[-n:]

        layers: list[nn.Module] = []
        block_sizes = []  # layers per conv block: stages() groups self.features by them
        size, c_in = image_size, in_channels
        for i, (c, s, p) in enumerate(zip(channels, strides, pads, strict=True)):
            before = len(layers)
            p = same_padding(kernel_size) if p is None else p
            conv = nn.Conv2d(c_in, c, kernel_size, s, p, bias=bias)
            layers.append(maybe_spectral(conv, spectral_norm))
            if batch_norm and (i > 0 or batch_norm_first):
                layers.append(nn.BatchNorm2d(c))
            layers.append(activation(activation_name, slope))
            block_sizes.append(len(layers) - before)
            size, c_in = (size + 2 * p - kernel_size) // s + 1, c
            if size < 1:
                raise UserError(
                    f"discriminator: kernel_size={kernel_size} shrinks a {image_size}px image "
                    f"to nothing at block {i + 1}; use a smaller kernel or larger images."
                )
        self.features = nn.Sequential(*layers)  # one flat Sequential: checkpoints name its layers
        self.block_sizes = tuple(block_sizes)
        self.feature_shape = (c_in, size, size)

        # Conditioning (design §2.6): "concat" appends the label's embedding to the features
        # before the head (cGAN, as 001 meant); "projection" adds <embed(y), features> to the
        # logit (Miyato & Koyama 2018), usually the better of the two.
        self.num_classes, self.conditioning = num_classes, conditioning
        extra = class_embed_dim if num_classes and conditioning == "concat" else 0
        flat = c_in * size * size
        self.embed = None
        if num_classes:
            self.embed = nn.Embedding(
                num_classes, class_embed_dim if conditioning == "concat" else flat
            )
        # Auxiliary classifier (Odena et al. 2017; model.class_loss): class logits from the
        # same features, trained on real images; G is rewarded when its fakes are classified
        # as the class asked for.
        self.classify = None
        if class_head and num_classes:
            self.classify = maybe_spectral(nn.Linear(flat, num_classes), spectral_norm)
        if head == "linear":
            self.flatten = nn.Sequential(
                nn.Flatten(), nn.Dropout(dropout) if dropout > 0 else nn.Identity()
            )
            self.head = maybe_spectral(nn.Linear(flat + extra, out_features), spectral_norm)
        else:  # conv (DCGAN): one conv covering the whole final map
            self.flatten = nn.Identity()
            self.head = nn.Sequential(
                maybe_spectral(
                    nn.Conv2d(c_in + extra, out_features, size, 1, 0, bias=bias), spectral_norm
                ),
                nn.Flatten(),
            )
        init_weights(self, init)

    def stages(self) -> list[list[nn.Module]]:
        """The network's blocks in order from the image side: each conv block, then the head
        (with the class embedding and the auxiliary classifier). model.freeze_d=K freezes the
        first K (FreezeD; gan_lab.models.freeze)."""
        layers, groups, i = list(self.features), [], 0
        for n in self.block_sizes:
            groups.append(layers[i : i + n])
            i += n
        head = [self.flatten, self.head, self.embed, self.classify]
        return [*groups, [m for m in head if m is not None]]

    def forward(
        self, x: torch.Tensor, y: torch.Tensor | None = None, classes: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The logit per image; with ``classes=True`` also the auxiliary class logits."""
        h = self.flatten(self.features(x))
        if self.embed is not None:
            if y is None:
                raise UserError("this discriminator is conditional: it needs the class labels.")
            e = self.embed(y).to(h.dtype)
            if self.conditioning == "concat":
                e = e if h.dim() == 2 else e[:, :, None, None].expand(-1, -1, *h.shape[2:])
                out = self.head(torch.cat([h, e], dim=1))
            else:
                out = self.head(h) + (e * h.flatten(1)).sum(1, keepdim=True)
        else:
            out = self.head(h)
        logit = out[:, 1] - out[:, 0] if out.shape[1] == 2 else out[:, 0]
        if not classes:
            return logit
        if self.classify is None:
            raise UserError("this discriminator has no class head (model.class_loss is 0).")
        return logit, self.classify(h.flatten(1))
