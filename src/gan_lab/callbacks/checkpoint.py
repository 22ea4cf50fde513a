"""Checkpoint policy (003 §9.2): the whole history every N epochs, plus last.ckpt after every epoch."""

from pathlib import Path

from lightning.pytorch.callbacks import Callback

from gan_lab.errors import TrainingStopped
from gan_lab.runs import layout
from gan_lab.runs.rollback import all_finite
from gan_lab.runs.safe_io import copy_atomic
from gan_lab.training.schedule import due, epochs_done


class HistoryCheckpoint(Callback):
    """Never loses work, never overwrites history.

    - ``epoch_0010.ckpt`` is the state after 10 *completed* epochs, every ``every_n_epochs``;
    - the final epoch is always kept in the history, even off the N-epoch grid;
    - ``last.ckpt`` is rewritten after every epoch, so a crash loses at most one.

    ``dirpath`` is the run folder; the file names are the layout's (gan_lab.runs.layout), never a
    setting: the report, scoring, resuming and the roll-back find them by the same names.

    Written with ``trainer.save_checkpoint`` (Lightning's public API: every rank calls it, rank 0
    writes), so the files are ordinary Lightning checkpoints that ``ckpt_path=`` resumes from. An
    epoch that writes both serialises once: global rank 0 then copies the epoch's file to
    ``last.ckpt`` (safe_io.copy_atomic).
    """

    def __init__(
        self,
        dirpath: str,
        every_n_epochs: int = 10,
        save_last: bool = True,
    ):
        self.dirpath = Path(dirpath)
        self.every_n_epochs, self.save_last = every_n_epochs, save_last

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if not all_finite(pl_module.state_dict()):  # the last line of defence (design §9)
            raise TrainingStopped(
                f"after epoch {epochs_done(trainer)} some weights are NaN or Inf; no checkpoint "
                f"was written for it (the earlier ones in {layout.checkpoints_dir(self.dirpath)} are "
                "intact). Resume from "
                "the newest with a lower learning rate, or set model.nonfinite=rollback."
            )
        # Whole checkpoints (optimisers, loops, callbacks: what a resume needs); saying so keeps
        # Lightning from logging "weights_only was not set" at every save. An epoch that writes
        # both serialises once: last.ckpt is then a copy of epoch_NNNN.ckpt.
        written = None
        if due(trainer, self.every_n_epochs):
            written = layout.checkpoint_path(self.dirpath, epochs_done(trainer))
            trainer.save_checkpoint(written, weights_only=False)
        if self.save_last:
            last = layout.last_checkpoint(self.dirpath)
            if written is None:
                trainer.save_checkpoint(last, weights_only=False)
            elif trainer.is_global_zero:  # the file rank 0 just wrote
                copy_atomic(written, last)
