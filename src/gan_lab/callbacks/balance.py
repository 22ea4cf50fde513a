"""A warning when one side wins too quickly (003 §10.2) or G's samples collapse.

Reads the epoch means the module logs (D(x), D(G(z))) and the fixed-noise samples;
warns in the log and in TensorBoard (text under ``warnings/``), with what to try.
"""

import logging

from lightning.pytorch.callbacks import Callback

from gan_lab import keys
from gan_lab.metrics.similarity import diversity
from gan_lab.schedule import epochs_done

log = logging.getLogger(__name__)

D_WINS_ADVICE = (
    "D is winning: D(x) stays near 1 and D(G(z)) near 0, so G gets almost no gradient. Try: a lower "
    "model.lr_d (or a higher model.lr_g), one-sided label smoothing model.real_label=0.9, more "
    "model.label_noise, model.diffaug=[color,translation,cutout], discriminator.spectral_norm=true, "
    "discriminator.dropout=0.3, or model.loss=hinge."
)
COLLAPSE_ADVICE = (
    "G's samples have collapsed to near copies of each other (mode collapse). Try: model.ema=0.999, "
    "model.diffaug=[color,translation,cutout], model.r1_gamma=1, a lower model.lr_g, or restart from "
    "an earlier checkpoint."
)


class ImbalanceWarning(Callback):
    def __init__(
        self,
        patience: int = 3,
        d_real_above: float = 0.95,
        d_fake_below: float = 0.05,
        collapse_ratio: float = 0.2,
        collapse_after: int = 5,
    ):
        self.patience = patience
        self.d_real_above, self.d_fake_below = d_real_above, d_fake_below
        self.collapse_ratio, self.collapse_after = collapse_ratio, collapse_after
        self.d_wins_epochs = 0
        self.warnings: list[str] = []

    def _warn(self, trainer, kind: str, message: str) -> None:
        text = f"epoch {epochs_done(trainer)}: {message}"
        self.warnings.append(text)
        log.warning(text)
        for logger in trainer.loggers:
            if hasattr(logger.experiment, "add_text"):
                logger.experiment.add_text(
                    f"warnings/{kind}", text, global_step=epochs_done(trainer)
                )

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        m = trainer.callback_metrics
        d_real, d_fake = m.get(keys.epoch_key(keys.D_REAL)), m.get(keys.epoch_key(keys.D_FAKE))
        if d_real is not None and d_fake is not None:
            wins = float(d_real) > self.d_real_above and float(d_fake) < self.d_fake_below
            self.d_wins_epochs = self.d_wins_epochs + 1 if wins else 0
            if self.d_wins_epochs == self.patience:  # once per streak, not every epoch after
                self._warn(trainer, "d_wins", f"for {self.patience} epochs. {D_WINS_ADVICE}")
        dm = trainer.datamodule
        if dm is not None and getattr(dm, "images", None) is not None and len(dm.images) > 1:
            fake = pl_module.generate_fixed(32)
            real = dm.to_model_range(dm.images[: len(fake)].to(fake.device))
            ratio = diversity(fake) / max(diversity(real), 1e-8)
            pl_module.log(keys.DIVERSITY, ratio, on_epoch=True, on_step=False, sync_dist=True)
            # An untrained G's samples are nearly all alike too: judge only after a few epochs.
            if ratio < self.collapse_ratio and epochs_done(trainer) > self.collapse_after:
                self._warn(
                    trainer,
                    "collapse",
                    f"sample diversity is {ratio:.2f}× the data's. {COLLAPSE_ADVICE}",
                )
