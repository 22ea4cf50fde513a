"""FID / KID / IS every K epochs and at the end of training (001, design §5), each beside the
real-vs-real floor, with precision/recall/density/coverage, memorisation and the classes
(gan_lab.metrics.truth).

The callback owns the feature extractor and the metric states, so neither enters a checkpoint.
Real-image features are computed at the first evaluation (or read from the user cache) and reused
for the whole run; the generated images come from the same noise at every evaluation, so the curve
shows the generator changing, not the sample. With a run folder (``dirpath``) each evaluation also
writes memorisation/epoch_NNNN.png|.csv and classes.csv rows, and the first evaluation whose
memorisation score passes ``memorisation_line`` writes a ``memorisation`` row to warnings.csv.
"""

import logging
from pathlib import Path

from lightning.pytorch.callbacks import Callback

from gan_lab.errors import UserError
from gan_lab.metrics.extractors import try_load_extractor
from gan_lab.metrics.images import generate_asked
from gan_lab.metrics.scorer import Scorer
from gan_lab.metrics.truth import Truth
from gan_lab.runs import layout
from gan_lab.runs.files import append_rows
from gan_lab.training.schedule import due, epochs_done

log = logging.getLogger(__name__)


class ImageMetrics(Callback):
    def __init__(
        self,
        every_n_epochs: int = 30,
        n_samples: int = 300,
        extractor: str = "inception",
        inception_weights: str | None = None,
        required: bool = False,
        batch_size: int = 100,
        seed: int = 0,
        prdc_k: int = 5,
        memorisation_n_train: int = 2000,
        memorisation_line: float | None = 0.7,
        class_fd_min: int = 50,
        dirpath: str | None = None,
    ):
        # dirpath: the run folder (memorisation/, classes.csv, warnings.csv); None writes no files
        self.every_n_epochs, self.n_samples, self.spec = every_n_epochs, n_samples, extractor
        self.inception_weights, self.required = inception_weights, required
        self.batch_size, self.seed = batch_size, seed
        self.truth_settings = dict(
            prdc_k=prdc_k,
            memorisation_n_train=memorisation_n_train,
            memorisation_line=memorisation_line,
            class_fd_min=class_fd_min,
        )
        self.dirpath = Path(dirpath) if dirpath else None
        self.scorer: Scorer | None = None
        self.truth: Truth | None = None
        self.warned_memorising = False  # the loud warning is said once per run (kept on resume)
        self._loaded = False
        self.message = ""

    @property
    def enabled(self) -> bool:
        return self.every_n_epochs > 0 and self.n_samples > 1

    def setup(self, trainer, pl_module, stage: str) -> None:
        if not self.enabled or self._loaded:
            return
        images = getattr(trainer.datamodule, "images", None)
        if images is not None and len(images) < 2:  # FID/KID need two images: say so now
            raise UserError(
                f"the training set has {len(images)} image(s), but FID/KID/IS compare two sets of "
                "at least 2 images; add images, or train without scores: metrics=off."
            )
        self._loaded = True  # one attempt, one message per run
        extractor, self.message = try_load_extractor(
            self.spec, self.inception_weights, self.required
        )
        if extractor is None:
            log.warning(self.message)
            return
        self.scorer = Scorer(extractor, self.batch_size, pl_module.device)

    def state_dict(self) -> dict:
        return {"warned_memorising": self.warned_memorising}

    def load_state_dict(self, state: dict) -> None:
        self.warned_memorising = bool(state.get("warned_memorising", False))

    def evaluate(self, trainer, pl_module):
        """The shown generator's Evaluation (gan_lab.metrics.truth) at this epoch."""
        if self.truth is None:
            self.truth = Truth(
                self.scorer, trainer.datamodule, self.n_samples, self.seed, **self.truth_settings
            )
        class_ids = pl_module.class_ids if pl_module.conditional else None
        fakes, asked = generate_asked(
            pl_module.shown_generator,  # score what the grids show
            pl_module.noise,
            self.n_samples,
            self.seed,
            self.batch_size,
            pl_module.device,
            class_ids,
        )
        return self.truth.evaluate(fakes, asked)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self.scorer is None or not due(trainer, self.every_n_epochs):
            return
        result = self.evaluate(trainer, pl_module)
        for name, value in result.scores.items():
            pl_module.log(name, value, on_step=False, on_epoch=True)
        epoch = epochs_done(trainer)
        write = self.dirpath is not None and trainer.is_global_zero
        if write:
            result.write_gallery(self.dirpath, epoch)
            append_rows(self.dirpath / layout.CLASSES_CSV, result.class_rows(epoch))
        if result.memorising and not self.warned_memorising:
            self.warned_memorising = True
            key = f"val/memorisation{self.truth.suffix}"
            text = self.truth.line_message(result.scores[key], epoch)
            log.warning("MEMORISING — %s", text)
            if write:
                row = {"epoch": epoch, "kind": "memorisation", "message": text}
                append_rows(self.dirpath / layout.WARNINGS_CSV, [row])
