"""Everything one evaluation says beyond FID/KID/IS, so that a number is read against something:
the real-vs-real floor, precision/recall/density/coverage, memorisation and the classes.

The training callback (gan_lab.callbacks.metrics) and ``gan-lab score`` (gan_lab.metrics.scores)
both build one :class:`Truth` per run and call :meth:`Truth.evaluate` per generated set, so the
two write the same columns from the same real images and the same feature space:

    val/fid{s} val/fid{s}_floor val/kid{s} val/kid{s}_floor val/kid{s}_std val/is{s} val/is{s}_std
    val/precision{s} val/recall{s} val/density{s} val/coverage{s}
    val/memorisation{s} val/memorisation{s}_floor

``{s}`` is the extractor's suffix ("" for Inception, "_<name>" for a classifier file).
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch

from gan_lab.data.decoded import cache_dir_for
from gan_lab.metrics import memorisation
from gan_lab.metrics.classes import class_rows, same_classes
from gan_lab.metrics.prdc import prdc
from gan_lab.metrics.realpool import data_digest, real_pool

log = logging.getLogger(__name__)


@dataclass
class Evaluation:
    """One generated set's scores, and what the run folder gets from it."""

    scores: dict[str, float]
    memorising: bool = False
    pairs: list[dict] = field(default_factory=list)  # the gallery's rows, closest first
    samples: torch.Tensor | None = None  # the generated images, [0, 1]
    matched: torch.Tensor | None = None  # each sample's nearest training image, uint8 0–255
    classes: list[dict] = field(default_factory=list)  # classes.csv rows (epoch filled in)

    def write_gallery(self, run_dir: Path, epoch: int) -> None:
        if self.pairs:
            memorisation.write_gallery(run_dir, epoch, self.pairs, self.samples, self.matched)

    def class_rows(self, epoch: int) -> list[dict]:
        return [{**row, "epoch": epoch} for row in self.classes]


class Truth:
    """The real side of every evaluation of a run: computed once, in the scorer's feature space."""

    def __init__(
        self,
        scorer,
        datamodule,
        n: int,
        seed: int = 0,
        prdc_k: int = 5,
        memorisation_n_train: int = 2000,
        memorisation_line: float | None = 0.7,
        class_fd_min: int = 50,
    ):
        self.scorer, self.suffix = scorer, scorer.suffix
        self.images = datamodule.images
        labels = getattr(datamodule, "labels", None)
        self.labels = (
            labels if labels is not None else torch.zeros(len(self.images), dtype=torch.long)
        )
        self.names = list(getattr(datamodule, "names", None) or [])
        self.classes = list(getattr(datamodule, "classes", None) or [])
        self.prdc_k, self.line, self.class_fd_min = prdc_k, memorisation_line, class_fd_min
        # data.cache=false sets the datamodule's cache_dir to None: then nothing is cached here either
        cache_dir = getattr(datamodule, "cache_dir", cache_dir_for(True, None))
        key = data_digest(datamodule, self.images)
        self.pool = real_pool(scorer, self.images, n, memorisation_n_train, seed, key, cache_dir)
        scorer.add_real_features(self.pool.scored)
        self.floors = scorer.floor(*self.pool.floor_pair)
        self.reference = None
        if self.pool.n_train >= 2:
            self.reference = memorisation.Reference(self.pool.feats[: self.pool.n_train])
            self.floors[f"val/memorisation{self.suffix}_floor"] = self.reference.floor()
        self.with_classes = same_classes(scorer.extractor, self.classes)

    def evaluate(self, fakes: torch.Tensor, asked: torch.Tensor | None = None) -> Evaluation:
        """The scores of ``fakes`` ([0, 1]); ``asked``: a conditional generator's classes."""
        s = self.suffix
        feats, logits = self.scorer.features(fakes, "generated images")
        base = self.scorer.score_features(feats, logits)
        scores = {
            f"val/fid{s}": base[f"val/fid{s}"],
            f"val/fid{s}_floor": self.floors[f"val/fid{s}_floor"],
            f"val/kid{s}": base[f"val/kid{s}"],
            f"val/kid{s}_floor": self.floors[f"val/kid{s}_floor"],
            **{k: v for k, v in base.items() if k not in (f"val/fid{s}", f"val/kid{s}")},
        }
        if len(self.pool.scored) > self.prdc_k and len(feats) > self.prdc_k:
            found = prdc(self.pool.scored, feats, self.prdc_k)
            scores.update({f"val/{name}{s}": value for name, value in found.items()})
        out = Evaluation(scores)
        if self.reference is not None:
            match = self.reference.match(feats)
            scores[f"val/memorisation{s}"] = match["score"]
            scores[f"val/memorisation{s}_floor"] = self.floors[f"val/memorisation{s}_floor"]
            out.memorising = memorisation.above_line(match["score"], self.line)
            train_index = self.pool.index[match["index"].cpu()]
            out.samples = fakes.cpu()
            # the training set's bytes (a quarter of a float copy: 0.24 GB for 300 at 256 px);
            # paired_ssim and the gallery turn them into [0, 1] a few at a time
            out.matched = self.images[train_index].cpu()
            named = [
                (int(i), self.names[i] if i < len(self.names) else f"#{i}")
                for i in train_index.tolist()
            ]
            out.pairs = memorisation.pairs(match, out.samples, out.matched, named)
        if self.with_classes:
            pool_labels = self.labels[self.pool.index]
            out.classes = class_rows(
                0,
                self.classes,
                self.labels,
                self.pool.feats,
                pool_labels,
                feats,
                logits,
                asked,
                self.class_fd_min,
            )
        return out

    def line_message(self, score: float, epoch: int) -> str:
        s = self.suffix
        return (
            f"epoch {epoch}: val/memorisation{s} = {score:.3f} is above metrics.memorisation_line "
            f"= {self.line} (held-out real images score "
            f"{self.floors[f'val/memorisation{s}_floor']:.3f}): the generator is drawing copies "
            "of its training images. Look at the closest pairs in memorisation/; try more data, "
            "augmentation (model.ada.enabled=true or model.diffaug=[color,translation,cutout]), "
            "or an earlier checkpoint."
        )


def against_floor(scores: dict[str, float]) -> str:
    """The printed line of a score: "val/fid 2.4 (1.9× the real-vs-real floor 1.26), ..."."""
    parts = []
    for name, value in scores.items():
        if name.endswith("_floor"):
            continue
        floor = scores.get(f"{name}_floor")
        text = f"{name} {value:.4g}"
        if floor is not None and floor == floor:
            if name.startswith("val/memorisation"):
                text += f" (held-out real images: {floor:.3g})"
            elif floor > 0:
                text += f" ({value / floor:.3g}× the real-vs-real floor {floor:.3g})"
            else:
                text += f" (the real-vs-real floor is {floor:.3g})"
        parts.append(text)
    return ", ".join(parts)
