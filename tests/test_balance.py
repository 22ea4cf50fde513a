"""The imbalance warning (003 §10.2) fires when D wins and when G collapses, and not otherwise."""

import lightning as L
import torch
from conftest import QUIET

from gan_lab.callbacks.balance import ImbalanceWarning
from gan_lab.runs.files import read_rows
from gan_lab.runs.layout import WARNINGS_CSV
from gan_lab.training.train import train


def run(cfg_factory, tmp_path, *overrides):
    spy = {}

    class Grab(L.Callback):
        def on_train_end(self, trainer, module):
            spy["balance"] = next(c for c in trainer.callbacks if isinstance(c, ImbalanceWarning))

    train(cfg_factory(*overrides, out=tmp_path / "run"), callbacks=[Grab()])
    return spy["balance"].warnings


def test_warns_when_discriminator_wins(cfg_factory, tmp_path):
    # G cannot learn (lr 0) while D learns fast: D(x) → 1 and D(G(z)) → 0 within a few epochs.
    warnings = run(
        cfg_factory,
        tmp_path,
        "model.loss=bce",
        "model.lr_g=0",
        "model.lr_d=2e-3",
        "model.label_noise=0",
        "trainer.max_epochs=6",
        "callbacks.balance.patience=2",
    )
    assert any("D is winning" in w and "model.lr_d" in w for w in warnings)
    events = list((tmp_path / "run" / "tensorboard").glob("events.*"))
    assert events and b"warnings/d_wins" in events[0].read_bytes()


def test_warns_when_samples_collapse(cfg_factory, tmp_path):
    class Collapse(L.Callback):
        def on_train_start(self, trainer, module):
            with torch.no_grad():  # every sample becomes the same image, and G (lr 0) cannot escape
                module.generator.out[0].weight.zero_()

    spy = {}

    class Grab(L.Callback):
        def on_train_end(self, trainer, module):
            spy["w"] = next(
                c for c in trainer.callbacks if isinstance(c, ImbalanceWarning)
            ).warnings

    cfg = cfg_factory(
        "trainer.max_epochs=1",
        "data.num_images=64",  # 2 steps: G (lr 0) cannot escape whatever the number
        "model.lr_g=0",
        "callbacks.balance.collapse_after=0",
        *QUIET,
        out=tmp_path / "run",
    )
    train(cfg, callbacks=[Collapse(), Grab()])
    assert any("collapsed" in w and "model.ema" in w for w in spy["w"])
    assert "train/diversity" in (tmp_path / "run" / "metrics.csv").read_text()


def test_quiet_on_a_healthy_start(trained_run):
    """The session's tiny run (TINY, 2 epochs, every callback as configured): the watch wrote
    no warning; each one it gives is a row of warnings.csv (callbacks.balance.dirpath)."""
    assert not (trained_run / WARNINGS_CSV).exists()
    assert read_rows(trained_run / WARNINGS_CSV) == []
