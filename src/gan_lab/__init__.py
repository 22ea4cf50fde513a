"""gan-lab: a GAN laboratory for small-data experiments."""

from gan_lab.errors import UserError

__all__ = ["UserError"]
__version__ = "0.1.0"
