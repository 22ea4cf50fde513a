"""SSIM of the fixed-noise samples against the training images, every M steps (004).

For each fixed-noise sample the best SSIM over a subset of training images is taken, then the
mean over samples: near 1 means the generator reproduces training images (memorisation or
collapse onto a few), low values mean structures unlike any training image. The curve goes to
the loggers at its own step and to ``ssim.csv``.
"""

from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback

from gan_lab.metrics.images import real_subset
from gan_lab.metrics.similarity import best_ssim
from gan_lab.models import to_unit
from gan_lab.runs import keys
from gan_lab.runs.files import append_rows
from gan_lab.runs.layout import SSIM_CSV
from gan_lab.training.schedule import batches_done, epochs_done


class SSIMTracker(Callback):
    def __init__(
        self,
        dirpath: str,
        every_n_steps: int = 100,
        n_real: int = 128,
        n_fake: int = 32,
        seed: int = 0,
    ):
        self.dirpath = Path(dirpath)
        self.every_n_steps, self.seed = every_n_steps, seed
        self.n_real, self.n_fake = n_real, n_fake
        self._reals: torch.Tensor | None = None
        self._rows: list[dict] = []  # written at the epoch's end, before its checkpoint

    @torch.no_grad()
    def measure(self, trainer, pl_module) -> float:
        if self._reals is None:
            # kept as the set's bytes (a quarter of their floats: 25 MB against 100 MB for 128
            # at 256 px); pairwise_ssim divides by 255 a chunk at a time
            images = real_subset(trainer.datamodule.images, self.n_real, self.seed, as_bytes=True)
            self._reals = images.to(pl_module.device)
        fakes = to_unit(pl_module.generate_fixed(self.n_fake), pl_module.value_range)
        return float(best_ssim(fakes, self._reals).mean())

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = batches_done(trainer)
        if self.every_n_steps <= 0 or step % self.every_n_steps:
            return
        value = self.measure(trainer, pl_module)
        for logger in trainer.loggers:
            logger.log_metrics({keys.SSIM: value}, step=step)
        row = {"step": step, "epoch": epochs_done(trainer), keys.short(keys.SSIM): f"{value:.6f}"}
        self._rows.append(row)

    def on_roll_back(self) -> None:
        """rollback.roll_back: the epoch's measurements so far are of the abandoned path."""
        self._rows = []

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        rows, self._rows = self._rows, []
        if trainer.is_global_zero:
            append_rows(self.dirpath / SSIM_CSV, rows)
