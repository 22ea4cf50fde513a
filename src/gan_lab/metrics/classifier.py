"""A small CNN classifier trained on the user's labelled images, used as a feature space.

Inception features mean little for 28×28 grey digits or five coloured shapes; a classifier that
knows the user's classes gives an honest FID/KID/IS for them. Its penultimate layer gives the
features, its logits the Inception Score. The file stores what rebuilds it (no code, no config).
:func:`train_extractor` fits one on a data set (``gan-lab extractor``).
"""

import re
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import nn

from gan_lab.config import compose, registry
from gan_lab.config.schema import MAX_CLASSES, MAX_IMAGE_SIZE, MAX_WIDTH
from gan_lab.data.augment import BatchAugment
from gan_lab.errors import UserError, load_torch_file
from gan_lab.progress import progress

# The file's format tag: files written before the commands moved to gan_lab.cli carry it too.
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
                f"gets {x.shape[1]}-channel ones; train one on this data (gan-lab extractor)."
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
        hint = "metrics.extractor is 'inception' or a file written by gan-lab extractor"
        blob = load_torch_file(path, "feature extractor file", hint)
        if not isinstance(blob, dict) or blob.get("kind") != KIND:
            raise UserError(f"{path} is not a gan-lab feature extractor file; {hint}.")
        meta = checked_meta(blob.get("meta"), path)
        if not isinstance(blob.get("state_dict"), dict):
            raise UserError(f"{path} has no state_dict; it was not loaded; {hint}.")
        name, classes, accuracy = meta.pop("name"), meta.pop("classes"), meta.pop("accuracy")
        net = SmallCNN(**meta)
        try:
            net.load_state_dict(blob["state_dict"])
        except (RuntimeError, TypeError, ValueError) as err:
            raise UserError(
                f"{path} holds other weights than its meta describes ({err!s:.300}); {hint}."
            ) from None
        return cls(net, name, classes, accuracy)


def _whole_in(low: int, high: int):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


# What an extractor file's meta may hold (ClassifierFeatures.save), each key's test and bound: the
# file is someone else's, and SmallCNN(**meta) allocates what its sizes say.
META = {
    "channels": (lambda v: v in (1, 3) and not isinstance(v, bool), "1 or 3"),
    "image_size": (_whole_in(8, MAX_IMAGE_SIZE), f"a whole number in [8, {MAX_IMAGE_SIZE}]"),
    "num_classes": (_whole_in(2, MAX_CLASSES), f"a whole number in [2, {MAX_CLASSES}]"),
    "width": (_whole_in(1, MAX_WIDTH // 4), f"a whole number in [1, {MAX_WIDTH // 4}]"),
    "feature_dim": (_whole_in(1, MAX_WIDTH), f"a whole number in [1, {MAX_WIDTH}]"),
    "name": (lambda v: isinstance(v, str) and len(v) <= 100 and v == safe_name(v), "a label"),
    "classes": (
        lambda v: (
            isinstance(v, list)
            and len(v) <= MAX_CLASSES
            and all(isinstance(c, str | int) and not isinstance(c, bool) for c in v)
        ),
        "a list of class names",
    ),
    "accuracy": (
        lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1,
        "a number in [0, 1]",
    ),
}


def checked_meta(meta: object, path: str | Path) -> dict:
    """An extractor file's meta, read as data: exactly META's keys, each of its type and within its
    bound, or one UserError naming the file and the key."""
    if not isinstance(meta, dict) or set(meta) != set(META):
        keys = sorted(map(str, meta)) if isinstance(meta, dict) else type(meta).__name__
        raise UserError(
            f"{path}: its meta must hold {', '.join(META)}, not {keys!s:.200}; the file was not "
            "loaded. Write it again with gan-lab extractor."
        )
    for key, (ok, what) in META.items():
        if not ok(meta[key]):
            raise UserError(
                f"{path}: its meta {key}={meta[key]!r:.80} must be {what}; the file was not "
                "loaded. Write it again with gan-lab extractor."
            )
    return dict(meta)


def safe_name(text: str) -> str:
    """A metric-name-safe label: val/fid_<name>."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "cnn"


def data_config(group: str, overrides: list[str] = ()) -> DictConfig:
    """The data node of conf/ (data=<group> plus data.* overrides), composed as train.py would."""
    return compose("extractor", [f"data={group}", *overrides, "out=unused"]).data


def train_extractor(
    data_cfg: DictConfig,
    out: str | Path,
    epochs: int = 8,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    name: str = "",
    holdout: float = 0.1,
    augment: bool = False,
) -> ClassifierFeatures:
    """Fit a SmallCNN on the labelled set, report held-out accuracy, save it to ``out``.

    The defaults are conf/extractor.yaml's (``gan-lab extractor``'s); tests call this directly.
    """
    torch.manual_seed(seed)
    dm = registry.build("data", data_cfg, value_range=(0.0, 1.0))
    dm.load()
    images, labels, classes = dm.images, dm.labels, list(dm.classes)
    if len(classes) < 2 or labels.unique().numel() < 2:
        raise UserError(
            f"data={dm.name} has fewer than two classes: a classifier needs labelled images "
            "(a folder set takes its classes from sub-folders)."
        )
    perm = torch.randperm(len(images))
    n_test = max(1, int(len(images) * holdout))
    test, train = perm[:n_test], perm[n_test:]
    net = SmallCNN(channels=images.shape[1], image_size=images.shape[-1], num_classes=len(classes))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    # augment=true: each training batch through the data group's flips/zooms/turns (data.augment),
    # a judge less fooled by strokes a little off the real ones; the held-out images stay as they are.
    aug = BatchAugment(**data_cfg.augment) if augment else nn.Identity()
    steps = epochs * len(range(0, len(train), batch_size))
    bar = progress(total=steps, desc=f"training the extractor on {dm.name}", unit="batch")
    for epoch in range(epochs):
        net.train()
        order = train[torch.randperm(len(train))]
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            bar.update()
            if len(idx) < 2:  # BatchNorm needs two images
                continue
            loss = F.cross_entropy(net(aug(images[idx].float() / 255)), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        bar.write(f"epoch {epoch + 1}/{epochs}: loss {loss.item():.3f}")  # above the bar
        sys.stdout.flush()  # a log file sees each epoch as it ends
    bar.close()
    net.eval()
    with torch.no_grad():
        pred = torch.cat(
            [net(images[test[s : s + 256]].float() / 255).argmax(1) for s in range(0, n_test, 256)]
        )
    accuracy = float((pred == labels[test]).float().mean())
    extractor = ClassifierFeatures(net, safe_name(name or Path(out).stem), classes, accuracy)
    extractor.save(out)
    return extractor
