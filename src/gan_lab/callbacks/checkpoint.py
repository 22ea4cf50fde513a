"""Checkpoint policy: the whole history every N epochs, plus last.ckpt after every epoch."""

from pathlib import Path

from lightning.pytorch.callbacks import ModelCheckpoint


class HistoryCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that names files by *completed* epochs and never loses work.

    - ``epoch_0010.ckpt`` is the state after 10 epochs (Lightning counts from 0);
    - ``last.ckpt`` is rewritten after every epoch, so a crash loses at most one;
    - the final epoch is always kept in the history, even off the N-epoch grid.
    """

    def format_checkpoint_name(self, metrics, *args, **kwargs):
        metrics = dict(metrics)
        if "epoch" in metrics:
            metrics["epoch"] = metrics["epoch"] + 1
        return super().format_checkpoint_name(metrics, *args, **kwargs)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if self._should_skip_saving_checkpoint(trainer):
            return
        done = trainer.current_epoch + 1
        on_grid = self._every_n_epochs >= 1 and done % self._every_n_epochs == 0
        final = trainer.max_epochs is not None and done >= trainer.max_epochs
        if final and not on_grid:
            self._save_topk_checkpoint(trainer, self._monitor_candidates(trainer))
        if self.save_last and not on_grid:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def history(self) -> list[Path]:
        return sorted(Path(self.dirpath).glob("epoch_*.ckpt"))
