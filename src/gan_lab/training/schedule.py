"""When things happen in a run: one owner for "every N epochs or the final one" and for the batch count.

Never ``trainer.global_step``: with two optimisers it counts every optimiser step (design, "Known traps").
"""

import lightning as L
from lightning.pytorch.callbacks import Callback, Timer


class StepLimit(Callback):
    """trainer.max_steps: stop after this many training batches in the whole run (one batch = its
    D step(s) and G step), counted by ``batches_done`` across resumes. Not Lightning's own
    ``max_steps``, which counts every optimiser step (two or more a batch here) and none that
    model.nonfinite skipped. Stops like Lightning's max_time Timer: the epoch ends there, and its
    end-of-epoch callbacks (checkpoints, grids, metrics) run as for the final epoch."""

    def __init__(self, max_steps: int):
        self.max_steps = int(max_steps)

    def reached(self, trainer: L.Trainer) -> bool:
        return batches_trained(trainer) >= self.max_steps

    def on_train_start(self, trainer, pl_module) -> None:
        if self.reached(trainer):  # a resume whose checkpoint is already there: no batch more
            trainer.should_stop = True

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.reached(trainer):
            trainer.should_stop = True


def step_limit(trainer: L.Trainer) -> StepLimit | None:
    """The trainer's trainer.max_steps callback, if the run has one."""
    return next((c for c in getattr(trainer, "callbacks", ()) if isinstance(c, StepLimit)), None)


def step_limit_reached(trainer: L.Trainer) -> bool:
    limit = step_limit(trainer)
    return limit is not None and limit.reached(trainer)


def epochs_done(trainer: L.Trainer) -> int:
    """Epochs completed once the current one ends (Lightning counts from 0)."""
    return trainer.current_epoch + 1


def time_limit_reached(trainer: L.Trainer) -> bool:
    """trainer.max_time has stopped the run: Lightning's Timer ran out and asked it to stop (the
    epoch then ends early, and this is its end). Without this, a run stopped by max_time wrote no
    grid, checkpoint or scores for its last epoch (a 256-px run of minutes: only the untrained grid)."""
    timer = next((c for c in getattr(trainer, "callbacks", ()) if isinstance(c, Timer)), None)
    remaining = timer.time_remaining() if timer is not None else None
    return bool(trainer.should_stop) and remaining is not None and remaining <= 0


def is_final(trainer: L.Trainer) -> bool:
    """The run's last epoch: max_epochs reached, trainer.max_steps within this epoch, or
    trainer.max_time run out during it."""
    planned = trainer.max_epochs
    by_epochs = planned is not None and planned > 0 and epochs_done(trainer) >= planned
    return by_epochs or step_limit_reached(trainer) or time_limit_reached(trainer)


def due(trainer: L.Trainer, every_n_epochs: int) -> bool:
    """At the end of this epoch: on the every-N grid (N ≤ 0: never), or the run's final epoch."""
    done = epochs_done(trainer)
    return (every_n_epochs > 0 and done % every_n_epochs == 0) or is_final(trainer)


def batches_done(trainer: L.Trainer) -> int:
    """Training batches completed in the whole run (kept across resumes)."""
    return trainer.fit_loop.epoch_loop.batch_progress.total.completed


def batches_trained(trainer: L.Trainer) -> int:
    """Training batches done in the whole run, the current one included once it has trained:
    in on_train_batch_end Lightning counts the batch as processed, and as completed (what
    ``batches_done`` reads) only after the hooks. The 100th batch's hooks see 100 here."""
    return trainer.fit_loop.epoch_loop.batch_progress.total.processed


def logged_step(trainer: L.Trainer) -> int:
    """The x-axis step of the scalars Lightning's loggers wrote last: the batch just finished
    (counted once per batch, whatever the number of optimisers), 0 before the first. Grids, texts
    and hyper-parameters logged at it line up with the losses and epoch means in TensorBoard.
    For logging only: it is Lightning's own counter, never a schedule."""
    return max(trainer.fit_loop.epoch_loop._batches_that_stepped - 1, 0)


def epochs_left(trainer: L.Trainer) -> int | None:
    """Epochs this fit will still run when trainer.max_epochs or trainer.max_steps bounds it
    (the lower bound of the two); None when only max_time (or nothing) does."""
    bounds = []
    if trainer.max_epochs is not None and trainer.max_epochs > 0:
        bounds.append(trainer.max_epochs - trainer.current_epoch)
    limit = step_limit(trainer)
    per_epoch = trainer.num_training_batches
    if limit is not None and isinstance(per_epoch, int) and per_epoch > 0:
        bounds.append(-(-(limit.max_steps - batches_trained(trainer)) // per_epoch))
    return max(min(bounds), 0) if bounds else None
