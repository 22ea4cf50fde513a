"""The objective: how far a trial's generator is from the set, in the set's own feature space.

FD or KID (torchmetrics', through gan_lab.metrics.scorer: the same code as the training metrics)
between ``n_samples`` images from seeded noise — never the grids' fixed noise — and a fixed,
seeded subset of the set's images; the extractor is a classifier trained on the set
(``gan-lab extractor``) or Inception. Scored at ``reports`` points of the trial's time slice; the
pruner reads the intermediate scores, the last one is the trial's value.
"""

import math
import time

import torch
from lightning.pytorch.callbacks import Callback
from torch import nn

from gan_lab.errors import UserError
from gan_lab.metrics.extractors import hub_weights_path, load_extractor
from gan_lab.metrics.images import generate_unit, real_subset
from gan_lab.metrics.scorer import Scorer


class Channels(nn.Module):
    """The extractor, given the channels it was trained on: grey as the mean of RGB (as the digits
    study scores RGB samples), RGB as grey repeated."""

    def __init__(self, extractor: nn.Module):
        super().__init__()
        self.extractor = extractor
        self.suffix = getattr(extractor, "suffix", "")
        self.feature_dim, self.num_classes = extractor.feature_dim, extractor.num_classes
        self.channels = getattr(extractor, "channels", None)

    def forward(self, images: torch.Tensor):
        if self.channels == 1 and images.shape[1] == 3:
            images = images.mean(1, keepdim=True)
        elif self.channels == 3 and images.shape[1] == 1:
            images = images.repeat(1, 3, 1, 1)
        return self.extractor(images)


def load_judge_extractor(spec: str, inception_weights: str | None) -> nn.Module:
    """``auto``: Inception when its weights are present; otherwise the message says how to get a
    feature space of the set's own (the study cannot rank recipes without one)."""
    if spec == "auto":
        if inception_weights or hub_weights_path().is_file():
            spec = "inception"
        else:
            raise UserError(
                "tune.extractor=auto found no Inception weights, and the study needs a feature "
                "space to score its trials in. Train one on your set (gan-lab extractor "
                "data=<the same data arguments> out=<file.pt>) and pass tune.extractor=<file.pt>, "
                f"or put Inception's weights at {hub_weights_path()} (the docs' Scores page)."
            )
    return Channels(load_extractor(spec, inception_weights))


class Judge:
    """Scores generators against one real subset; the real features are computed once."""

    def __init__(self, extractor: nn.Module, metric: str, n_samples: int, seed: int):
        self.extractor, self.metric, self.n, self.seed = extractor, metric, n_samples, seed
        self.scorer: Scorer | None = None
        self._key = None  # (device, count, shape) of the images the real features came from
        self.name = f"{metric}{extractor.suffix}"

    def score(self, module, images: torch.Tensor, batch_size: int = 100) -> float:
        device = module.device
        key = (str(device), len(images), tuple(images.shape[1:]))
        if self._key != key:  # a new worker, device or set: its real features, once
            self.scorer = Scorer(self.extractor, batch_size, device)
            # Seed + 1: a real subset and noise of their own, not those of the training metrics.
            self.scorer.add_real(real_subset(images, self.n, self.seed + 1))
            self._key = key
        fakes = generate_unit(
            module.shown_generator,  # what the grids show: the EMA generator where there is one
            module.noise,
            self.n,
            self.seed + 1,
            batch_size,
            device,
            module.class_ids if module.conditional else None,
        )
        return self.scorer.score(fakes)[f"val/{self.metric}{self.extractor.suffix}"]


class TrialReporter(Callback):
    """Scores the generator at ``reports`` evenly spaced points of the slice (training time);
    stops the run when the pruner says the trial is behind, or when the study's budget ends."""

    def __init__(
        self, judge: Judge, trial, slice_s: float, reports: int, deadline: float, tick=None
    ):
        self.judge, self.trial, self.slice, self.reports = judge, trial, slice_s, reports
        self.deadline, self.tick = deadline, tick or (lambda: None)
        self.step, self.value, self.pruned, self.cut = 0, None, False, False
        self.t0 = 0.0

    def on_train_start(self, trainer, pl_module) -> None:
        self.t0 = time.monotonic()

    def _report(self, trainer, pl_module) -> float:
        self.step += 1
        value = self.judge.score(pl_module, trainer.datamodule.images)
        if math.isfinite(value):
            self.trial.report(value, self.step)
        self.tick()
        return value

    def on_train_batch_end(self, trainer, pl_module, *args) -> None:
        if time.time() >= self.deadline:
            self.cut = trainer.should_stop = True
            return
        due = (self.step + 1) * self.slice / self.reports
        if self.step + 1 < self.reports and time.monotonic() - self.t0 >= due:
            value = self._report(trainer, pl_module)
            if not math.isfinite(value) or self.trial.should_prune():
                self.pruned = trainer.should_stop = True
                self.value = value

    def on_train_end(self, trainer, pl_module) -> None:
        if not (self.pruned or self.cut):
            self.value = self._report(trainer, pl_module)
