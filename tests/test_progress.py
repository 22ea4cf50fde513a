"""Progress bars on the long work outside training: each names its work and counts it.
(gan-lab sample's bar: tests/test_tensorboard.py, which has a checkpoint at hand.)"""

import pytest
import torch
from torch import nn

from gan_lab import progress
from gan_lab.core.noise import Normal
from gan_lab.latent.inversion import invert
from gan_lab.metrics.classifier import data_config, train_extractor
from gan_lab.metrics.scorer import Scorer


@pytest.fixture(autouse=True)
def bars_at_once(monkeypatch):
    monkeypatch.setattr(progress, "DELAY", 0)  # the real delay hides work this short


class Linear(nn.Module):
    latent_dim, value_range = 4, (-1.0, 1.0)

    def __init__(self):
        super().__init__()
        self.net = nn.Linear(4, 3 * 2 * 2)

    def forward(self, z):
        return torch.tanh(self.net(z)).view(-1, 3, 2, 2)


class Features(nn.Module):
    """A stand-in extractor: (features, logits) of the mean colour."""

    feature_dim, num_classes = 3, 3

    def forward(self, images):
        f = images.mean((2, 3)).float()
        return f, f


def test_inversion_counts_its_steps(capsys):
    torch.manual_seed(0)
    target = torch.zeros(3, 2, 2)
    settings = dict(lr=0.01, momentum=0.9, restarts=2, n_frames=2, reduction="sum")
    invert(Linear(), target, Normal(), (-1.0, 1.0), steps=5, desc="inverting a.png", **settings)
    err = capsys.readouterr().err
    assert "inverting a.png" in err and "5/5" in err


def test_scoring_counts_the_images(capsys):
    scorer = Scorer(Features(), batch_size=4)
    scorer.add_real(torch.rand(10, 3, 8, 8))
    scorer.score(torch.rand(6, 3, 8, 8))
    err = capsys.readouterr().err
    assert "features of real images" in err and "/10 " in err
    assert "features of generated images" in err and "/6 " in err
    assert err.split("\r")[-2].strip() == ""  # cleared when done: training's bar stays alone


def test_extractor_training_counts_batches_and_prints_each_epoch(tmp_path, capsys):
    data = data_config("builtin", ["data.num_images=64"])
    train_extractor(data, tmp_path / "x.pt", epochs=2, batch_size=32, holdout=0.25)
    captured = capsys.readouterr()
    assert "training the extractor on builtin" in captured.err and "4/4" in captured.err
    assert "epoch 1/2" in captured.out and "epoch 2/2" in captured.out
