"""When things happen in a run: one owner for "every N epochs or the final one" and for the batch count.

Never ``trainer.global_step``: with two optimisers it counts every optimiser step (design, "Known traps").
"""

import lightning as L


def epochs_done(trainer: L.Trainer) -> int:
    """Epochs completed once the current one ends (Lightning counts from 0)."""
    return trainer.current_epoch + 1


def is_final(trainer: L.Trainer) -> bool:
    planned = trainer.max_epochs
    return planned is not None and planned > 0 and epochs_done(trainer) >= planned


def due(trainer: L.Trainer, every_n_epochs: int) -> bool:
    """At the end of this epoch: on the every-N grid (N ≤ 0: never), or the run's final epoch."""
    done = epochs_done(trainer)
    return (every_n_epochs > 0 and done % every_n_epochs == 0) or is_final(trainer)


def batches_done(trainer: L.Trainer) -> int:
    """Training batches completed in the whole run (kept across resumes)."""
    return trainer.fit_loop.epoch_loop.batch_progress.total.completed


def logged_step(trainer: L.Trainer) -> int:
    """The x-axis step of the scalars Lightning's loggers wrote last: the batch just finished
    (counted once per batch, whatever the number of optimisers), 0 before the first. Grids, texts
    and hyper-parameters logged at it line up with the losses and epoch means in TensorBoard.
    For logging only: it is Lightning's own counter, never a schedule."""
    return max(trainer.fit_loop.epoch_loop._batches_that_stepped - 1, 0)
