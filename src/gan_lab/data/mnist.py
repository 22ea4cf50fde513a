"""MNIST from local IDX files, through torchvision's own reader (no download)."""

from pathlib import Path

import torch
from torchvision.datasets.mnist import read_image_file, read_label_file

FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def find_mnist(root: Path, train: bool = True) -> tuple[Path, Path] | None:
    """The IDX pair in root, root/raw or root/MNIST/raw (torchvision's layout), if present."""
    for folder in (root, root / "raw", root / "MNIST" / "raw"):
        images, labels = (folder / name for name in FILES[train])
        if images.is_file() and labels.is_file():
            return images, labels
    return None


def load_mnist(root: Path, train: bool = True) -> tuple[torch.Tensor, torch.Tensor] | None:
    found = find_mnist(root, train)
    if found is None:
        return None
    images, labels = found
    return read_image_file(str(images))[:, None].contiguous(), read_label_file(str(labels)).long()
