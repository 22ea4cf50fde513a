"""Plain nn.Module networks; nothing here knows Lightning or Hydra."""

from gan_lab.models.discriminator import Discriminator
from gan_lab.models.generator import Generator, to_unit
from gan_lab.models.init import init_weights
from gan_lab.models.layers import output_range

__all__ = ["Discriminator", "Generator", "init_weights", "output_range", "to_unit"]
