"""Data: image folders, named sets, the built-in set, MNIST, batch augmentation.

Nothing here knows the networks; the training code tells the data module which
value range the generator produces.
"""

from gan_lab.data.datamodule import GANDataModule

__all__ = ["GANDataModule"]
