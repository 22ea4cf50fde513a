"""Does a tiny set pay a per-epoch tax? Epoch wall time against the sum of its steps' time.

    python benchmarks/epoch_overhead.py [extra overrides...]

Trains 4 epochs on 300 built-in images at 64×64, batch 8 (the 003 situation), with the
default callbacks and logger, and prints per epoch: steps, the sum of per-step times,
the epoch's wall time and their ratio. The last epoch also writes a checkpoint and grids.
"""

import sys
import tempfile
import time
from pathlib import Path

import lightning as L

from gan_lab.config import compose
from gan_lab.training.train import train


class Timing(L.Callback):
    def __init__(self):
        self.rows = []

    def on_train_epoch_start(self, trainer, module):
        self.epoch_t0, self.steps = time.perf_counter(), []

    def on_train_batch_start(self, *args):
        self.t0 = time.perf_counter()

    def on_train_batch_end(self, *args):
        self.steps.append(time.perf_counter() - self.t0)

    def on_train_epoch_end(self, trainer, module):
        wall = time.perf_counter() - self.epoch_t0
        self.rows.append((trainer.current_epoch + 1, len(self.steps), sum(self.steps), wall))


def main(extra: list[str]) -> None:
    timing = Timing()
    with tempfile.TemporaryDirectory() as out:
        cfg = compose(
            "train",
            [
                "data.num_images=300",
                "data.image_size=64",
                "data.batch_size=8",
                "trainer.max_epochs=4",
                "trainer.enable_progress_bar=false",
                "metrics=off",
                *extra,
            ],
            output_dir=Path(out),
        )
        train(cfg, callbacks=[timing])
    print("epoch  steps  sum of steps (s)  epoch wall (s)  ratio")
    for epoch, n, steps, wall in timing.rows:
        print(f"{epoch:5d}  {n:5d}  {steps:16.2f}  {wall:14.2f}  {wall / steps:5.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
