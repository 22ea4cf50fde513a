"""Plain nn.Module networks; nothing here knows Lightning or Hydra."""

from gan_lab.models.discriminator import Discriminator
from gan_lab.models.generator import Generator, to_unit
from gan_lab.models.init import init_weights

__all__ = ["Discriminator", "Generator", "init_weights", "to_unit"]
