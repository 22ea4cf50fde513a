"""Weight initialisation schemes."""

from torch import nn

# The names a config may choose (gan_lab.config.schema checks them before anything is built).
SCHEMES = ("default", "dcgan")


def init_weights(module: nn.Module, scheme: str) -> None:
    """``default``: PyTorch's own. ``dcgan``: N(0, 0.02) weights, BatchNorm N(1, 0.02), zero biases
    (Radford et al. 2015, as 002 and 004 do)."""
    if scheme == "default":
        return
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            # Hook-based spectral norm (models/layers.py) keeps the trained weight as weight_orig;
            # m.weight is recomputed from it before every forward.
            weight = getattr(m, "weight_orig", m.weight)
            nn.init.normal_(weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:  # class BatchNorm keeps gains 1
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
