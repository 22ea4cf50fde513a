"""The networks' keys: generator.*, discriminator.* and noise.*, each the union of its presets
(conf/generator/, conf/discriminator/, conf/noise/). The choices come from the classes that act on
them (gan_lab.models), so a new activation or head needs no second edit here."""

from gan_lab.config.schema.data import SIZE_WORDS
from gan_lab.config.schema.rules import (
    MAX_BLOCKS,
    MAX_CLASSES,
    MAX_IMAGE_SIZE,
    MAX_KERNEL,
    MAX_WIDTH,
    choice,
    flag,
    number,
    target,
    whole,
    wholes,
)
from gan_lab.models.discriminator import CONDITIONINGS as D_CONDITIONINGS
from gan_lab.models.discriminator import HEADS
from gan_lab.models.generator import CONDITIONINGS as G_CONDITIONINGS
from gan_lab.models.generator import PROJECTIONS, UPSAMPLINGS
from gan_lab.models.init import SCHEMES
from gan_lab.models.layers import ACTIVATIONS, OUTPUT_ACTIVATIONS

_CONV = "the convolutions' kernel size"
_ACT = "the hidden layers' activation"
_SLOPE = "LeakyReLU's negative slope (activation_name=leaky_relu only)"

GENERATOR = {
    "generator._target_": target("gan_lab.models.Generator", "gan_lab.models.generator.Generator"),
    "generator.latent_dim": whole("size of the latent vector z", low=1, high=MAX_WIDTH),
    "generator.out_channels": choice("image channels (follows data.channels)", (1, 3, "auto")),
    "generator.image_size": whole(
        f"output size {SIZE_WORDS} (follows data.image_size)", low=16, high=MAX_IMAGE_SIZE
    ),
    "generator.base_size": whole(
        "the image size the channel list is written for", low=8, high=MAX_IMAGE_SIZE
    ),
    "generator.project": choice("z → first map: linear (003) or convt (DCGAN)", PROJECTIONS),
    "generator.project_channels": whole("channels of the first map", low=1, high=MAX_WIDTH),
    "generator.start_size": whole("side of the first map, px", low=1, high=MAX_IMAGE_SIZE // 2),
    "generator.channels": wholes("filters of the upsampling blocks, first to last", high=MAX_WIDTH),
    "generator.kernel_size": whole(_CONV, low=1, high=MAX_KERNEL),
    "generator.upsample": choice("transposed convolutions or nearest ×2 + conv", UPSAMPLINGS),
    "generator.convs_per_block": whole(
        "convolutions per block (upsample=nearest)", low=1, high=MAX_BLOCKS
    ),
    "generator.batch_norm": flag("BatchNorm after each block"),
    "generator.spectral_norm": flag("spectral normalisation of the weights"),
    "generator.activation_name": choice(_ACT, tuple(ACTIVATIONS)),
    "generator.slope": number(_SLOPE, 0, 1, high_open=True),
    "generator.bias": flag("biases in the convolutions"),
    "generator.out_kernel_size": whole(
        "kernel of the last conv; 0 = the last ×2 layer outputs the image", high=MAX_KERNEL
    ),
    "generator.out_activation": choice(
        "sigmoid → [0, 1], tanh → [-1, 1]; the data follow", tuple(OUTPUT_ACTIVATIONS)
    ),
    "generator.init": choice("weight initialisation", SCHEMES),
    "generator.num_classes": whole(
        "set from the data when model.conditional=true", high=MAX_CLASSES
    ),
    "generator.class_embed_dim": whole(
        "size of the label embedding (conditional only)", low=1, high=MAX_WIDTH
    ),
    "generator.conditioning": choice(
        "concat, or batchnorm: a gain and shift per class too", G_CONDITIONINGS
    ),
}

DISCRIMINATOR = {
    "discriminator._target_": target(
        "gan_lab.models.Discriminator", "gan_lab.models.discriminator.Discriminator"
    ),
    "discriminator.in_channels": choice("image channels (follows data.channels)", (1, 3, "auto")),
    "discriminator.image_size": whole(
        f"input size {SIZE_WORDS} (follows data.image_size)", low=16, high=MAX_IMAGE_SIZE
    ),
    "discriminator.base_size": whole(
        "the image size the channel list is written for", low=8, high=MAX_IMAGE_SIZE
    ),
    "discriminator.channels": wholes(
        "filters of the strided blocks, first to last", high=MAX_WIDTH
    ),
    "discriminator.kernel_size": whole(_CONV, low=1, high=MAX_KERNEL),
    "discriminator.strides": wholes(
        "one stride per block; null = 2 everywhere", null=True, example="[2,2,1,1]", high=MAX_KERNEL
    ),
    "discriminator.paddings": wholes(
        "one padding per block; null = same", low=0, null=True, example="[1,1,0,0]", high=MAX_KERNEL
    ),
    "discriminator.batch_norm": flag("BatchNorm after the convolutions"),
    "discriminator.batch_norm_first": flag("... also after the first one"),
    "discriminator.spectral_norm": flag("spectral normalisation of the weights"),
    "discriminator.activation_name": choice(_ACT, tuple(ACTIVATIONS)),
    "discriminator.slope": number(_SLOPE, 0, 1, high_open=True),
    "discriminator.bias": flag("biases in the convolutions"),
    "discriminator.dropout": number("dropout before the head", 0, 1, high_open=True),
    "discriminator.head": choice("linear (flatten → Linear) or conv (DCGAN)", HEADS),
    "discriminator.out_features": choice("1 logit, or 2 real/fake classes (004)", (1, 2)),
    "discriminator.init": choice("weight initialisation", SCHEMES),
    "discriminator.num_classes": whole(
        "set from the data when model.conditional=true", high=MAX_CLASSES
    ),
    "discriminator.conditioning": choice(
        "projection or concat (conditional only)", D_CONDITIONINGS
    ),
    "discriminator.class_head": flag("the auxiliary classifier (set from model.class_loss)"),
    "discriminator.class_embed_dim": whole("embedding size for concat", low=1, high=MAX_WIDTH),
}

NOISE = {
    "noise._target_": target(
        *(f"gan_lab.{m}noise.{c}" for m in ("core.", "") for c in ("Normal", "Uniform", "Gamma"))
    ),
    "noise.mean": number("N(mean, std): the mean"),
    "noise.std": number("N(mean, std): the standard deviation", 0, low_open=True),
    "noise.low": number("U(low, high): the lower end"),
    "noise.high": number("U(low, high): the upper end"),
    "noise.shape": number("Γ(k, θ): the shape k", 0, low_open=True),
    "noise.scale": number("Γ(k, θ): the scale θ", 0, low_open=True),
}
