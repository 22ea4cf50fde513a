"""Checkpoint policy (003 §9.2): the whole history every N epochs, plus last.ckpt after every epoch."""

import logging
import math
from pathlib import Path

from lightning.pytorch.callbacks import Callback

from gan_lab.errors import TrainingStopped
from gan_lab.runs import layout
from gan_lab.runs.rollback import all_finite
from gan_lab.runs.safe_io import copy_atomic
from gan_lab.training.schedule import due, epochs_done, epochs_left

log = logging.getLogger(__name__)
# Above this, the start of a run says what its history of checkpoints will take on disk.
DISK_WARNING_BYTES = 1 << 30


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

    def on_train_start(self, trainer, pl_module) -> None:
        """Every N epochs is few files for a big set and many for a tiny one (50 images at batch
        16: an epoch of 3 batches, a 3,000-batch run 100 checkpoints): say the disk it will take."""
        left = epochs_left(trainer)
        if not trainer.is_global_zero or self.every_n_epochs <= 0 or not left:
            return
        done, n = trainer.current_epoch, self.every_n_epochs
        count = (done + left) // n - done // n + ((done + left) % n > 0)  # and the final epoch
        size = checkpoint_bytes(trainer, pl_module)
        where = layout.checkpoints_dir(self.dirpath)
        if note := history_note(n, trainer.num_training_batches, count, size, where):
            log.warning(note)

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


def checkpoint_bytes(trainer, pl_module) -> int:
    """About what one whole checkpoint takes: the module's state and the optimisers' (Adam: two
    moments per trained weight), at their dtypes; loops, callbacks and config are small beside."""
    tensors = list(pl_module.state_dict().values())
    for opt in trainer.optimizers:
        if opt.state:
            tensors += [
                v for state in opt.state.values() for v in state.values() if hasattr(v, "numel")
            ]
        else:  # before the first step: what Adam's moments will take
            weights = [p for g in opt.param_groups for p in g["params"]]
            tensors += weights + weights
    return sum(t.numel() * t.element_size() for t in tensors)


def history_note(every: int, per_epoch: int, count: int, size: int, where: Path) -> str | None:
    """What a run's history of checkpoints will take, when it is more than DISK_WARNING_BYTES."""
    if count * size <= DISK_WARNING_BYTES:
        return None
    note = (
        f"checkpoints: every {every} epochs ({per_epoch} batches an epoch here) keeps ~{count} "
        f"files of ~{size / 1e6:.0f} MB in {where} by the end of this run, ~{count * size / 1e9:.1f} GB: the "
        "whole history is kept (003 §9.2)"
    )
    fewer = every * math.ceil(count / 20)
    if fewer > every:
        note += f"; ~{math.ceil(count * every / fewer)} with callbacks.checkpoint.every_n_epochs={fewer}"
    return note
