"""A warning when one side wins too quickly (003 §10.2) or G's samples collapse.

Reads the epoch means the module logs (D(x), D(G(z))) and the fixed-noise samples;
warns in the log and in TensorBoard (text under ``warnings/``), with what to try, and records each
warning in the run folder's warnings.csv (the report marks them on its time axes).
"""

import logging
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback

from gan_lab.errors import TrainingStopped
from gan_lab.metrics.similarity import diversity
from gan_lab.runs import keys, layout
from gan_lab.runs.files import append_rows
from gan_lab.runs.rollback import any_rank, last_good, roll_back
from gan_lab.training.schedule import epochs_done, logged_step

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
        action: str = "warn",
        dirpath: str | None = None,
        lr_factor: float = 0.5,
    ):
        # dirpath: the run folder (its warnings.csv, and the history checkpoints a roll-back goes
        # back to); None records nothing and cannot roll back.
        # action: warn | stop | rollback (gan_lab.config.schema.BALANCE_ACTIONS, checked there)
        self.patience = patience
        self.d_real_above, self.d_fake_below = d_real_above, d_fake_below
        self.collapse_ratio, self.collapse_after = collapse_ratio, collapse_after
        self.action, self.lr_factor = action, lr_factor
        self.dirpath = Path(dirpath) if dirpath else None
        self.d_wins_epochs = 0
        self.warnings: list[str] = []

    # The streak survives a resume (Lightning stores callback state in the checkpoint).
    def state_dict(self) -> dict:
        return {"d_wins_epochs": self.d_wins_epochs}

    def load_state_dict(self, state: dict) -> None:
        self.d_wins_epochs = int(state.get("d_wins_epochs", 0))

    def _act(self, trainer, pl_module, text: str, since_epoch: int) -> str:
        """What the config asks for beyond the warning: stop, or go back to the newest checkpoint
        from before the trouble began (003 §9.2), with lower learning rates."""
        if self.action == "stop":
            raise TrainingStopped(
                f"{text} Training stopped (callbacks.balance.action=stop); the checkpoints in "
                f"{layout.checkpoints_dir(self.dirpath or '<run>')} are intact: resume from one "
                "with changed settings."
            )
        if self.action == "rollback":
            path = last_good(self.dirpath, before_epoch=since_epoch) if self.dirpath else None
            if path is None:
                return " No checkpoint from before it to roll back to: training goes on."
            self.d_wins_epochs = 0
            return " " + roll_back(trainer, pl_module, path, self.lr_factor, "", self.dirpath)
        return ""

    def _warn(self, trainer, pl_module, kind: str, message: str, since_epoch: int) -> None:
        text = f"epoch {epochs_done(trainer)}: {message}"
        text += self._act(trainer, pl_module, text, since_epoch)
        self.warnings.append(text)
        log.warning(text)
        if self.dirpath is not None and trainer.is_global_zero:
            row = {"epoch": epochs_done(trainer), "kind": kind, "message": text}
            append_rows(self.dirpath / layout.WARNINGS_CSV, [row])
        for logger in trainer.loggers:
            if hasattr(logger.experiment, "add_text"):
                step = logged_step(trainer)  # the x-axis of the losses; the text names the epoch
                logger.experiment.add_text(f"warnings/{kind}", text, global_step=step)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        m = trainer.callback_metrics
        d_real, d_fake = m.get(keys.epoch_key(keys.D_REAL)), m.get(keys.epoch_key(keys.D_FAKE))
        if d_real is not None and d_fake is not None:
            wins = float(d_real) > self.d_real_above and float(d_fake) < self.d_fake_below
            self.d_wins_epochs = self.d_wins_epochs + 1 if wins else 0
            if self.d_wins_epochs == self.patience:  # once per streak, not every epoch after
                began = epochs_done(trainer) - self.patience + 1
                message = f"for {self.patience} epochs. {D_WINS_ADVICE}"
                self._warn(trainer, pl_module, "d_wins", message, began)
        dm = trainer.datamodule
        if dm is not None and getattr(dm, "images", None) is not None and len(dm.images) > 1:
            fake = pl_module.generate_fixed(32)
            real = dm.to_model_range(dm.images[: len(fake)].to(fake.device))
            ratio = diversity(fake) / max(diversity(real), 1e-8)
            pl_module.log(keys.DIVERSITY, ratio, on_epoch=True, on_step=False, sync_dist=True)
            # An untrained G's samples are nearly all alike too: judge only after a few epochs.
            collapsed = ratio < self.collapse_ratio and epochs_done(trainer) > self.collapse_after
            # Each DDP rank drew the samples through its own BatchNorm statistics: ranks agree
            # (one of them seeing a collapse is enough), or only some would roll back or stop.
            if any_rank(torch.tensor(collapsed, device=pl_module.device))[0]:
                message = f"sample diversity is {ratio:.2f}× the data's. {COLLAPSE_ADVICE}"
                self._warn(trainer, pl_module, "collapse", message, epochs_done(trainer))
