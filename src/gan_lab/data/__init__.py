"""Data: image folders, named sets, the built-in set, MNIST, batch augmentation.

Nothing here knows the networks; the training code tells the data module which
value range the generator produces. ``GANDataModule`` (Lightning) is imported on first use, so
that checking a command line (config.schema reads data.decoded) starts without Lightning.
"""

__all__ = ["GANDataModule"]


def __getattr__(name: str):
    if name == "GANDataModule":
        from gan_lab.data.datamodule import GANDataModule

        return GANDataModule
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
