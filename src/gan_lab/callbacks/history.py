"""Per-epoch means to ``metrics.csv``, per-step losses to ``steps.csv``, a loss-curve PNG at the end.

Both CSVs are appended to, so a resumed run keeps one continuous history.
"""

import csv
import time
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback

from gan_lab.module import STAT_KEYS, batches_done


def _append(path: Path, new_rows: list[dict]) -> None:
    """Append rows; if new columns appear (e.g. a metric logged later), rewrite with the union."""
    keys = list(dict.fromkeys(k for row in new_rows for k in row))
    rows, fields = [], keys
    if path.exists():
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            old = list(reader.fieldnames or [])
            if any(k not in old for k in keys):
                rows = list(reader)
            fields = old + [k for k in keys if k not in old]
    if rows or not path.exists():
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
    with path.open("a", newline="") as f:
        csv.DictWriter(f, fieldnames=fields).writerows(new_rows)


def read_csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


class EpochHistory(Callback):
    def __init__(self, dirpath: str, plot: bool = True):
        self.dirpath = Path(dirpath)
        self.plot = plot
        # (batch number, the step's STAT_KEYS values) — kept as tensors until the epoch ends,
        # so a GPU run does not wait for the device after every step.
        self._steps: list[tuple[int, torch.Tensor]] = []
        self._t0 = time.perf_counter()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._t0 = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if isinstance(outputs, dict) and all(k in outputs for k in STAT_KEYS):
            values = torch.stack([outputs[k].detach() for k in STAT_KEYS])
            self._steps.append((batches_done(trainer), values))

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        steps, self._steps = self._steps, []
        if not trainer.is_global_zero:
            return
        self.dirpath.mkdir(parents=True, exist_ok=True)
        epoch = trainer.current_epoch + 1
        row: dict = {"epoch": epoch, "step": batches_done(trainer)}
        for key, value in sorted(trainer.callback_metrics.items()):
            name = key.removesuffix("_epoch")
            if key.endswith("_step") or name in row:
                continue
            row[name] = float(value) if isinstance(value, torch.Tensor) else value
        row["epoch_seconds"] = round(time.perf_counter() - self._t0, 3)
        _append(self.dirpath / "metrics.csv", [row])
        if steps:
            names = [k.split("/")[-1] for k in STAT_KEYS]
            values = torch.stack([v for _, v in steps]).tolist()  # one device sync an epoch
            rows = [
                {"step": step, "epoch": epoch, **dict(zip(names, vals, strict=True))}
                for (step, _), vals in zip(steps, values, strict=True)
            ]
            _append(self.dirpath / "steps.csv", rows)

    def on_train_end(self, trainer, pl_module) -> None:
        if self.plot and trainer.is_global_zero:
            plot_losses(self.dirpath)


def plot_losses(run_dir: Path) -> Path | None:
    """losses.png: per-step D and G loss (faint) and per-epoch means (bold), 001's curve."""
    epochs, steps = read_csv(run_dir / "metrics.csv"), read_csv(run_dir / "steps.csv")
    if not epochs:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_prob) = plt.subplots(1, 2, figsize=(11, 4))
    per_epoch = max(int(epochs[-1]["step"]) / int(epochs[-1]["epoch"]), 1.0)  # steps in one epoch
    for key, color in (("d_loss", "tab:blue"), ("g_loss", "tab:orange")):
        if steps:
            ax_loss.plot(
                [int(r["step"]) / per_epoch for r in steps],
                [float(r[key]) for r in steps],
                color=color,
                alpha=0.25,
                lw=0.7,
            )
        ax_loss.plot(
            [int(r["epoch"]) for r in epochs],
            [float(r[f"train/{key}"]) for r in epochs],
            color=color,
            lw=2,
            label=key,
        )
    ax_loss.set(xlabel="epoch", ylabel="loss", title="losses (faint: per step)")
    ax_loss.legend()
    for key, label in (("train/d_real", "D(x)"), ("train/d_fake", "D(G(z))")):
        ax_prob.plot(
            [int(r["epoch"]) for r in epochs], [float(r[key]) for r in epochs], lw=2, label=label
        )
    ax_prob.set(xlabel="epoch", ylabel="mean probability 'real'", ylim=(0, 1), title="D's outputs")
    ax_prob.legend()
    fig.tight_layout()
    out = run_dir / "losses.png"
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
