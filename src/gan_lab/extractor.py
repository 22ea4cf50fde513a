"""Train the feature extractor for FID/KID/IS on your own labelled images, in one command.

python -m gan_lab.extractor data=<builtin|mnist|folder|...> out=<file.pt> [epochs=8] [name=<label>] [data.<key>=...]

Then train with metrics.extractor=<file.pt>; its metrics are logged as val/fid_<name>,
val/kid_<name>, val/is_<name> (name defaults to the file's stem). The classes come from the data
set: the built-in shapes, the digits, or the sub-folders of a folder set.
"""

import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import nn

from gan_lab.cli import command, compose
from gan_lab.config import registry
from gan_lab.config.schema import EXTRACTOR
from gan_lab.config.validate import check_config
from gan_lab.data.augment import BatchAugment
from gan_lab.errors import UserError
from gan_lab.metrics.classifier import ClassifierFeatures, SmallCNN, safe_name
from gan_lab.progress import progress

USAGE = __doc__.strip().splitlines()[2].strip()


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

    The defaults are conf/extractor.yaml's (the command line's); tests call this directly.
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


@command("extractor", USAGE)
def main(cfg: DictConfig) -> None:
    check_config(cfg)  # the data.* keys
    check_config(cfg, EXTRACTOR)
    keys = ("epochs", "batch_size", "lr", "seed", "name", "holdout", "augment")
    args = {k: cfg[k] for k in keys}
    extractor = train_extractor(cfg.data, cfg.out, **args)
    out = Path(cfg.out).resolve()
    print(
        f"wrote {out}: {len(extractor.classes)} classes, held-out accuracy "
        f"{extractor.accuracy:.1%}. Use it with metrics.extractor={out} "
        f"(logged as val/fid_{extractor.name}, val/kid_{extractor.name}, val/is_{extractor.name})."
    )


if __name__ == "__main__":
    main()
