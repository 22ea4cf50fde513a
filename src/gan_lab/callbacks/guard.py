"""The run guard (design §9): a NaN or Inf never reaches a checkpoint.

The module skips any phase whose loss is not finite (``model.nonfinite``: skip, warn, rollback,
stop) and lists the events; this callback reports them in one paragraph, rolls back to the last
good checkpoint or stops, and checks at every epoch end — before the checkpoint is written —
that every weight is finite. Under DDP every rank lists the same events (the module decides on
all ranks' losses at once) and the epoch-end check is agreed the same way, so all ranks roll back
or stop together.
"""

import logging

import torch
from lightning.pytorch.callbacks import Callback

from gan_lab.errors import TrainingStopped
from gan_lab.runs.rollback import all_finite, any_rank, last_good, roll_back
from gan_lab.training.schedule import epochs_done

log = logging.getLogger(__name__)

ADVICE = (
    "Try a lower model.lr_d / model.lr_g, trainer.precision=32-true (if bf16 or fp16 was used), "
    "model.loss=hinge, discriminator.spectral_norm=true, or model.r1_gamma=1."
)


class RunGuard(Callback):
    """``dirpath`` is the run folder: its history checkpoints (gan_lab.runs.layout) are where a
    roll-back goes back to."""

    def __init__(
        self,
        dirpath: str,
        lr_factor: float = 0.5,
        max_rollbacks: int = 3,
        max_skipped_steps: int = 50,
    ):
        self.dirpath, self.lr_factor = dirpath, lr_factor
        self.max_rollbacks, self.max_skipped_steps = max_rollbacks, max_skipped_steps
        self.rollbacks = 0
        self._seen, self._run, self._last_step, self._warned_epoch = 0, 0, -1, -1

    def _stop(self, what: str) -> TrainingStopped:
        keep = last_good(self.dirpath)
        kept = f"The newest good checkpoint is {keep}" if keep else "No checkpoint was written yet"
        return TrainingStopped(
            f"{what} Training stopped; no checkpoint holds NaN or Inf weights. {kept}. {ADVICE} "
            "Resume with ckpt_path=<that checkpoint> and the changed settings "
            "(model.nonfinite=rollback goes back automatically)."
        )

    def _rollback(self, trainer, pl_module, what: str) -> None:
        path = last_good(self.dirpath)
        if path is None or self.rollbacks >= self.max_rollbacks:
            why = "no checkpoint to go back to" if path is None else f"{self.rollbacks} roll-backs"
            raise self._stop(f"{what} ({why}).")
        self.rollbacks += 1
        said = roll_back(trainer, pl_module, path, self.lr_factor, what, self.dirpath)
        if trainer.is_global_zero:
            log.warning(said)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        events = pl_module.nonfinite_events
        if len(events) == self._seen:
            return
        new, self._seen = events[self._seen :], len(events)
        epoch, step, phase, value = new[0]
        what = f"The {phase} loss was {value} at epoch {epoch}, step {step}."
        mode = pl_module.nonfinite
        if mode == "stop":
            raise self._stop(what)
        if mode == "rollback":
            self._rollback(trainer, pl_module, what)
            return
        self._run = self._run + 1 if step == self._last_step + 1 else 1
        self._last_step = step
        if self._run > self.max_skipped_steps:
            raise self._stop(f"{what} {self._run} steps in a row had a NaN/Inf loss.")
        if epoch != self._warned_epoch and trainer.is_global_zero:  # one paragraph an epoch
            self._warned_epoch = epoch
            done = "skipped (not applied)" if mode == "skip" else "applied anyway (nonfinite=warn)"
            log.warning(f"{what} That step was {done}. {ADVICE}")

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        # BatchNorm statistics are each rank's own (without sync_batchnorm): agree on them too.
        bad = torch.tensor(not all_finite(pl_module.state_dict()), device=pl_module.device)
        if not any_rank(bad)[0]:
            return
        what = f"After epoch {epochs_done(trainer)} some weights are NaN or Inf."
        if pl_module.nonfinite in ("rollback", "warn", "skip") and last_good(self.dirpath):
            self._rollback(trainer, pl_module, what)
        else:
            raise self._stop(what)
