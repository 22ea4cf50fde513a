"""Every class: does the generator draw each class as often as the data holds it, and well?

One FID over a labelled set can hide a class the generator never draws (the other classes keep
the average low). When the feature extractor is a classifier over the data's own classes (``gan-lab
extractor`` on the same set: its class names are the data's, in the same order), each scored
epoch gets one row per class in ``classes.csv``:

- ``data_share``: the class's share of the training set;
- ``sample_share``: the share of generated images the extractor classifies as that class (an
  unconditional generator that drops a class shows 0 here);
- ``accuracy`` (conditional runs only): the share of the samples asked for the class that the
  extractor classifies as it;
- ``fd``: the Fréchet distance between the class's real images and its samples (those asked for
  it in a conditional run, those classified as it otherwise), where the class has at least
  ``metrics.class_fd_min`` real images among the scored real features and two samples; an empty
  cell otherwise (a Gaussian fitted to a few images in 128 dimensions says little).
"""

import torch

from gan_lab.metrics.scorer import frechet_distance

FIELDS = ("epoch", "class", "data_share", "sample_share", "accuracy", "fd")


def same_classes(extractor, data_classes) -> bool:
    """Whether the extractor classifies into exactly the data's classes (names, in order)."""
    mine = getattr(extractor, "classes", None)
    if not mine or len(data_classes) < 2:
        return False
    return [str(c) for c in mine] == [str(c) for c in data_classes]


def feature_fd(a: torch.Tensor, b: torch.Tensor) -> float:
    """FID's formula on two sets of features (float64)."""
    a, b = a.double(), b.double()
    return float(frechet_distance(a.mean(0), torch.cov(a.T), b.mean(0), torch.cov(b.T)))


def class_rows(
    epoch: int,
    classes: list,
    data_labels: torch.Tensor,
    real_feats: torch.Tensor,
    real_labels: torch.Tensor,
    fake_feats: torch.Tensor,
    fake_logits: torch.Tensor,
    asked: torch.Tensor | None,
    fd_min: int,
) -> list[dict]:
    """classes.csv's rows of one scored epoch (module docstring); ``asked``: the classes a
    conditional generator was asked for, None for an unconditional one."""
    predicted = fake_logits.argmax(dim=1).cpu()
    data_labels, real_labels = data_labels.cpu(), real_labels.cpu()
    asked = asked.cpu() if asked is not None else None
    rows = []
    for c, name in enumerate(classes):
        mine = (asked == c) if asked is not None else (predicted == c)
        accuracy = ""
        if asked is not None and bool(mine.any()):
            accuracy = f"{float((predicted[mine] == c).double().mean()):.4f}"
        real_c = real_feats[(real_labels == c).to(real_feats.device)]
        fd = ""
        if len(real_c) >= max(fd_min, 2) and int(mine.sum()) >= 2:
            fd = f"{feature_fd(real_c, fake_feats[mine.to(fake_feats.device)]):.6g}"
        rows.append(
            {
                "epoch": epoch,
                "class": str(name),
                "data_share": f"{float((data_labels == c).double().mean()):.4f}",
                "sample_share": f"{float((predicted == c).double().mean()):.4f}",
                "accuracy": accuracy,
                "fd": fd,
            }
        )
    return rows
