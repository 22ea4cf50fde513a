"""trainer.max_time: the epoch the Timer stops is the run's final one — its grid and checkpoint are
written, as for max_epochs and trainer.max_steps (a 256-px run of minutes otherwise kept only the
untrained grid)."""

import time

import lightning as L
from conftest import QUIET

from gan_lab.runs import layout
from gan_lab.training.schedule import epochs_done
from gan_lab.training.train import train


class SlowBatches(L.Callback):
    """0.15 s a batch: a 1-s max_time stops the run within its first few epochs (3 batches each)."""

    def on_train_batch_end(self, trainer, *args):
        time.sleep(0.15)

    def on_train_epoch_end(self, trainer, module):
        self.epochs = epochs_done(trainer)  # the last one seen: the epoch the Timer cut short


def test_the_epoch_max_time_stops_gets_its_grid_and_checkpoint(cfg_factory, tmp_path):
    run = tmp_path / "run"
    args = ["trainer.limit_train_batches=3", "trainer.max_epochs=10", "trainer.max_time=1"]
    seen = SlowBatches()
    # Grids and checkpoints every 5 epochs: only the final-epoch rule can write the stopped one.
    train(
        cfg_factory(*args, "callbacks.checkpoint.every_n_epochs=5", *QUIET, out=run),
        callbacks=[seen],
    )
    assert 1 <= seen.epochs < 5  # the Timer stopped it, not max_epochs nor the every-5 grid
    assert layout.checkpoint_path(run, seen.epochs).is_file()
    assert layout.grid_path(run, seen.epochs).is_file()
