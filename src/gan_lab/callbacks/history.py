"""Per-epoch means to ``metrics.csv``, per-step losses to ``steps.csv``, a loss-curve PNG at the end.

Both CSVs are appended to, so a resumed run keeps one continuous history.
"""

import time
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback

from gan_lab.runs import keys
from gan_lab.runs.files import append_rows, read_rows
from gan_lab.runs.layout import LOSSES_PNG, METRICS_CSV, STEPS_CSV, WARNINGS_CSV
from gan_lab.runs.safe_io import guard_tensorboard, write_atomic
from gan_lab.training.schedule import batches_done, epochs_done


class EpochHistory(Callback):
    def __init__(self, dirpath: str, plot: bool = True):
        self.dirpath = Path(dirpath)
        self.plot = plot
        # (batch number, the step's STAT_KEYS values) — kept as tensors until the epoch ends,
        # so a GPU run does not wait for the device after every step.
        self._steps: list[tuple[int, torch.Tensor]] = []
        self._t0 = time.perf_counter()
        self._rolled_back = False

    def setup(self, trainer, pl_module, stage: str) -> None:
        if trainer.is_global_zero:  # the same values go to TensorBoard: a full disk is a paragraph
            guard_tensorboard(trainer.loggers)

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._t0, self._rolled_back = time.perf_counter(), False

    def on_roll_back(self) -> None:
        """rollback.roll_back: the epoch's steps so far belong to the abandoned path. An epoch
        with no step after its roll-back gets no row (its means would be that path's)."""
        self._steps, self._rolled_back = [], True

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if isinstance(outputs, dict) and all(k in outputs for k in keys.STAT_KEYS):
            values = torch.stack([outputs[k].detach() for k in keys.STAT_KEYS])
            self._steps.append((batches_done(trainer), values))

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        steps, self._steps = self._steps, []
        # Every rank reads the metrics: with DDP the read reduces values logged with sync_dist
        # (a collective), so a read on rank 0 alone would wait for the other ranks forever.
        metrics = trainer.callback_metrics
        if not trainer.is_global_zero or (self._rolled_back and not steps):
            return
        self.dirpath.mkdir(parents=True, exist_ok=True)
        epoch = epochs_done(trainer)
        row: dict = {"epoch": epoch, "step": batches_done(trainer)}
        for key, value in sorted(metrics.items()):
            name = key.removesuffix(keys.epoch_key(""))
            if key.endswith(keys.step_key("")) or name in row:
                continue
            row[name] = float(value) if isinstance(value, torch.Tensor) else value
        row["epoch_seconds"] = round(time.perf_counter() - self._t0, 3)
        append_rows(self.dirpath / METRICS_CSV, [row])
        if steps:
            names = [keys.short(k) for k in keys.STAT_KEYS]
            values = torch.stack([v for _, v in steps]).tolist()  # one device sync an epoch
            rows = [
                {"step": step, "epoch": epoch, **dict(zip(names, vals, strict=True))}
                for (step, _), vals in zip(steps, values, strict=True)
            ]
            append_rows(self.dirpath / STEPS_CSV, rows)

    def on_train_end(self, trainer, pl_module) -> None:
        if self.plot and trainer.is_global_zero:
            plot_losses(self.dirpath)


def plot_losses(run_dir: Path) -> Path | None:
    """losses.png: D's and G's loss and D(x), D(G(z)) per step (faint) and per epoch (bold) —
    001's curve — with the warnings at their epoch; the same picture the report shows (which
    embeds this file when it is up to date instead of drawing it again)."""
    epochs, steps = read_rows(run_dir / METRICS_CSV), read_rows(run_dir / STEPS_CSV)
    if not epochs:
        return None
    from gan_lab.report.plots import training_curves  # matplotlib is loaded only when it is used

    png = training_curves(epochs, steps, read_rows(run_dir / WARNINGS_CSV))
    return write_atomic(run_dir / LOSSES_PNG, png)
