"""A small CNN classifier trained on the user's labelled images, used as a feature space.

Inception features mean little for 28×28 grey digits or five coloured shapes; a classifier that
knows the user's classes gives an honest FID/KID/IS for them. Its penultimate layer gives the
features, its logits the Inception Score. The file stores what rebuilds it (no code, no config).
"""

import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gan_lab.errors import UserError, load_torch_file

KIND = "gan_lab.extractor/1"


class SmallCNN(nn.Module):
    def __init__(
        self,
        channels: int,
        image_size: int,
        num_classes: int,
        width: int = 32,
        feature_dim: int = 128,
    ):
        super().__init__()
        self.hparams = dict(
            channels=channels,
            image_size=image_size,
            num_classes=num_classes,
            width=width,
            feature_dim=feature_dim,
        )
        layers, c_in = [], channels
        for c_out in (width, width * 2, width * 4):
            layers += [
                nn.Conv2d(c_in, c_out, 3, padding=1),
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            c_in = c_out
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.embed = nn.Sequential(nn.Linear(c_in, feature_dim), nn.ReLU())
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        size = self.hparams["image_size"]
        if x.shape[-1] != size or x.shape[-2] != size:
            x = F.interpolate(
                x, size=(size, size), mode="bilinear", antialias=True, align_corners=False
            )
        # Centre [0, 1] images; the network itself never sees another range.
        return self.embed(self.body(x * 2 - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class ClassifierFeatures(nn.Module):
    """A trained SmallCNN as an extractor: metrics named val/fid_<name> etc."""

    def __init__(self, net: SmallCNN, name: str, classes: list[str], accuracy: float):
        super().__init__()
        self.net = net.eval().requires_grad_(False)
        self.name, self.classes, self.accuracy = name, classes, accuracy
        self.suffix = f"_{name}"
        self.channels = net.hparams["channels"]
        self.feature_dim, self.num_classes = net.hparams["feature_dim"], net.hparams["num_classes"]

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = images.float().clamp(0, 1)
        if x.shape[1] != self.channels:
            raise UserError(
                f"the feature extractor '{self.name}' was trained on {self.channels}-channel images but "
                f"gets {x.shape[1]}-channel ones; train one on this data (python -m gan_lab.extractor)."
            )
        features = self.net.features(x)
        return features, self.net.head(features)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = dict(self.net.hparams, name=self.name, classes=self.classes, accuracy=self.accuracy)
        torch.save({"kind": KIND, "meta": meta, "state_dict": self.net.state_dict()}, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "ClassifierFeatures":
        hint = "metrics.extractor is 'inception' or a file written by python -m gan_lab.extractor"
        blob = load_torch_file(path, "feature extractor file", hint)
        if not isinstance(blob, dict) or blob.get("kind") != KIND:
            raise UserError(f"{path} is not a gan-lab feature extractor file; {hint}.")
        meta = dict(blob["meta"])
        name, classes, accuracy = meta.pop("name"), meta.pop("classes"), meta.pop("accuracy")
        net = SmallCNN(**meta)
        net.load_state_dict(blob["state_dict"])
        return cls(net, name, classes, accuracy)


def safe_name(text: str) -> str:
    """A metric-name-safe label: val/fid_<name>."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "cnn"
