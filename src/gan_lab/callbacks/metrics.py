"""FID / KID / IS every K epochs and at the end of training (001, design §5).

The callback owns the feature extractor and the metric states, so neither enters a checkpoint.
Real-image features are computed at the first evaluation and reused for the whole run; the
generated images come from the same noise at every evaluation, so the curve shows the generator
changing, not the sample.
"""

import logging

from lightning.pytorch.callbacks import Callback

from gan_lab.errors import UserError
from gan_lab.metrics.extractors import try_load_extractor
from gan_lab.metrics.images import generate_unit, real_subset
from gan_lab.metrics.scorer import Scorer
from gan_lab.training.schedule import due

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
    ):
        self.every_n_epochs, self.n_samples, self.spec = every_n_epochs, n_samples, extractor
        self.inception_weights, self.required = inception_weights, required
        self.batch_size, self.seed = batch_size, seed
        self.scorer: Scorer | None = None
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

    def evaluate(self, trainer, pl_module) -> dict[str, float]:
        if self.scorer.n_real == 0:
            self.scorer.add_real(real_subset(trainer.datamodule.images, self.n_samples, self.seed))
        fakes = generate_unit(
            pl_module.shown_generator,  # score what the grids show
            pl_module.noise,
            self.n_samples,
            self.seed,
            self.batch_size,
            pl_module.device,
            pl_module.class_ids if pl_module.conditional else None,
        )
        return self.scorer.score(fakes)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self.scorer is None:
            return
        if due(trainer, self.every_n_epochs):
            for name, value in self.evaluate(trainer, pl_module).items():
                pl_module.log(name, value, on_step=False, on_epoch=True)
