"""trainer.max_steps: a run stops after that many training iterations (batches, each one D and one
G step here), not Lightning's optimiser-step count; a resume may raise it, and a checkpoint made
before the key existed resumes."""

from pathlib import Path

import lightning as L
import torch
from conftest import QUIET

from gan_lab.runs import layout
from gan_lab.training.schedule import batches_done
from gan_lab.training.train import train

# 3 batches an epoch, room for 10 epochs: only max_steps can stop these runs early.
ARGS = ["trainer.limit_train_batches=3", "trainer.max_epochs=10", *QUIET]


class Count(L.Callback):
    def on_train_end(self, trainer, module):
        self.batches, self.epochs = batches_done(trainer), trainer.current_epoch
        self.optimiser_steps = trainer.global_step


def test_max_steps_counts_iterations_and_a_resume_may_raise_it(cfg_factory, tmp_path):
    run = tmp_path / "run"
    seen = Count()
    train(cfg_factory(*ARGS, "trainer.max_steps=5", out=run), callbacks=[seen])
    # 5 batches: 2 in the second epoch; Lightning's own counter saw D's and G's step each time.
    assert (seen.batches, seen.optimiser_steps) == (5, 10)
    # The stop is the run's end: its epoch is checkpointed as the final one.
    assert layout.checkpoint_path(run, 2).is_file()

    last = f"ckpt_path={layout.last_checkpoint(run)}"
    ckpt = torch.load(layout.last_checkpoint(run), weights_only=True)
    del ckpt["gan_lab"]["config"]["trainer"]["max_steps"]  # as a checkpoint of an earlier version
    torch.save(ckpt, layout.last_checkpoint(run))
    longer = [last, "trainer.max_steps=8"]
    more = Count()
    train(cfg_factory(*ARGS, *longer, out=run), callbacks=[more], overrides=longer)
    assert more.batches == 8


def test_recipe_auto_counts_the_budget_from_max_steps(cfg_factory):
    from gan_lab.training.budget_rule import LONG_BATCH, SHORT_BATCH, budget_batch

    long = cfg_factory("trainer.max_epochs=1000")
    assert budget_batch(long, 100_000, 64)[0] == LONG_BATCH
    short = cfg_factory("trainer.max_epochs=1000", "trainer.max_steps=400")
    batch, why = budget_batch(short, 100_000, 64)
    assert batch == SHORT_BATCH and "max_steps 400" in why and "~400 steps" in why


def test_a_run_of_many_short_epochs_says_what_its_checkpoints_take(
    cfg_factory, tmp_path, caplog, monkeypatch
):
    """Every N epochs on a tiny set is many files: the start says how many and how big (the
    estimate within a fifth of the real file), bounded by trainer.max_steps, and how to keep fewer."""
    from gan_lab.callbacks import checkpoint

    monkeypatch.setattr(checkpoint, "DISK_WARNING_BYTES", 0)  # any history at all: say it
    run = tmp_path / "run"
    args = ["trainer.limit_train_batches=2", "trainer.max_epochs=1000", "trainer.max_steps=8"]
    with caplog.at_level("WARNING", logger="gan_lab.callbacks.checkpoint"):
        train(cfg_factory(*args, "callbacks.checkpoint.every_n_epochs=1", *QUIET, out=run))
    files = sorted(layout.checkpoints_dir(run).glob("epoch_*.ckpt"))
    assert len(files) == 4  # 8 batches of 2 an epoch
    said = [
        r.getMessage() for r in caplog.records if "checkpoints: every 1 epochs" in r.getMessage()
    ]
    assert len(said) == 1, caplog.text
    assert "(2 batches an epoch here) keeps ~4 files of ~" in said[0]
    assert str(layout.checkpoints_dir(run)) in said[0] and "every_n_epochs=" not in said[0]
    estimate_mb = float(said[0].split("files of ~")[1].split(" MB")[0])
    assert 0.8 <= estimate_mb / (files[0].stat().st_size / 1e6) <= 1.2


def test_the_disk_note_names_a_cadence_that_keeps_about_twenty(monkeypatch):
    from gan_lab.callbacks.checkpoint import history_note

    # 50 images at batch 16, 3,000 batches: 1,000 epochs, every 10 → 100 files of 20 MB
    note = history_note(10, 3, 100, 20_000_000, Path("run/checkpoints"))
    assert "keeps ~100 files of ~20 MB in run/checkpoints by the end of this run, ~2.0 GB" in note
    assert note.endswith("~20 with callbacks.checkpoint.every_n_epochs=50")
    assert history_note(10, 3, 40, 20_000_000, Path("c")) is None  # 0.8 GB: nothing to say
