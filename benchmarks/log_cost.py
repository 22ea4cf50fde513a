"""What Lightning's self.log costs per training step, with nothing else in the step.

    python benchmarks/log_cost.py

A module with one parameter and manual optimisation runs 2,000 steps on one thread,
once per way of reporting four scalars (as the GAN's D loss, G loss, D(x), D(G(z))):
  nothing        — the step does no reporting: Lightning's own loop and data fetching;
  self.log ×4    — what GAN.training_step did before: on_step + on_epoch, prog_bar, sync_dist;
  epoch sums     — what it does now: one stacked tensor added to a running sum (self.log
                   is then called only every trainer.log_every_n_steps steps and once an epoch).
Prints the whole step's wall time per step for each.
"""

import time

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

KEYS = ("train/d_loss", "train/g_loss", "train/d_real", "train/d_fake")
STEPS = 2000


class Reporter(L.LightningModule):
    def __init__(self, mode: str):
        super().__init__()
        self.automatic_optimization = False
        self.mode = mode
        self.p = torch.nn.Parameter(torch.zeros(1))
        self.sums = torch.zeros(len(KEYS))

    def configure_optimizers(self):
        return torch.optim.SGD([self.p], lr=0.1)

    def training_step(self, batch, batch_idx):
        values = torch.rand(len(KEYS))
        if self.mode == "self.log ×4":
            stats = dict(zip(KEYS, values, strict=True))
            self.log_dict(
                stats, on_step=True, on_epoch=True, prog_bar=True, batch_size=8, sync_dist=True
            )
        elif self.mode == "epoch sums":
            self.sums += values * 8


def per_step_ms(mode: str) -> float:
    trainer = L.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    loader = DataLoader(TensorDataset(torch.zeros(STEPS, 1)), batch_size=1)
    start = time.perf_counter()
    trainer.fit(Reporter(mode), loader)
    return (time.perf_counter() - start) / STEPS * 1000


def main() -> None:
    torch.set_num_threads(1)
    for mode in ("nothing", "self.log ×4", "epoch sums"):
        print(f"{mode:12s} {per_step_ms(mode):6.2f} ms/step")


if __name__ == "__main__":
    main()
