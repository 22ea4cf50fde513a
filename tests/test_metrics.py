"""Scores: FID against a SciPy reference, offline Inception, the user-trained extractor, SSIM, KID
on small sets, checkpoints free of feature networks, and the best-checkpoint table."""

import csv
import logging

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from gan_lab.errors import UserError
from gan_lab.metrics.extractors import INCEPTION_FILE, load_extractor
from gan_lab.metrics.images import generate_unit
from gan_lab.metrics.scorer import Scorer
from gan_lab.metrics.similarity import best_ssim, pairwise_ssim
from gan_lab.training.train import train

FAST = ["trainer.max_epochs=1", "metrics.ssim_every_n_steps=0", "callbacks.samples=null"]
FAST += ["logger=none", "callbacks.report=null"]  # metrics.csv is all these tests read


class Identity(nn.Module):
    """'Images' that are already feature vectors: the metrics see exactly the given features."""

    def __init__(self, dim: int):
        super().__init__()
        self.feature_dim = self.num_classes = dim

    def forward(self, x):
        return x, x


def reference_fid(a: np.ndarray, b: np.ndarray) -> float:
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


@pytest.mark.parametrize("n_real,n_fake,dim", [(400, 300, 32), (120, 90, 256)])
def test_fid_equals_float64_scipy_reference(n_real, n_fake, dim):
    rng = np.random.default_rng(n_real)
    real = rng.normal(size=(n_real, dim))
    fake = rng.normal(0.2, 1.0, size=(n_fake, dim)) @ rng.normal(size=(dim, dim)) / np.sqrt(dim)
    scorer = Scorer(Identity(dim), batch_size=64)
    scorer.add_real(torch.tensor(real, dtype=torch.float64))
    ours = scorer.score(torch.tensor(fake, dtype=torch.float64))["val/fid"]
    ref = reference_fid(real, fake)
    assert ours == pytest.approx(ref, rel=1e-6)
    # Real statistics are kept: scoring the real set itself against them gives ~0.
    assert abs(scorer.score(torch.tensor(real))["val/fid"]) < 1e-6 * ref


def test_kid_and_is_work_on_a_300_image_set():
    torch.manual_seed(0)
    scorer = Scorer(Identity(16), batch_size=100)
    scorer.add_real(torch.randn(300, 16))
    same = scorer.score(torch.randn(300, 16))
    shifted = scorer.score(torch.randn(300, 16) + 1.0)
    assert abs(same["val/kid"]) < 0.05 < shifted["val/kid"]
    assert same["val/kid_std"] >= 0 and same["val/is"] >= 1.0


def test_generated_images_are_scaled_to_unit_range_whatever_the_activation():
    class Const(nn.Module):
        latent_dim, value_range = 4, (-1.0, 1.0)

        def forward(self, z):
            return z[:, :1, None, None].sign().expand(-1, 3, 8, 8) * 2  # beyond tanh's range

    from gan_lab.core.noise import Normal

    images = generate_unit(Const(), Normal(), 64, seed=0, batch_size=16)
    assert images.min() == 0 and images.max() == 1 and images.shape == (64, 3, 8, 8)


def test_pairwise_ssim_equals_torchmetrics_and_finds_copies():
    from torchmetrics.functional.image import structural_similarity_index_measure as ssim

    torch.manual_seed(0)
    fakes, reals = torch.rand(3, 3, 32, 32), torch.rand(4, 3, 32, 32)
    i, j = torch.cartesian_prod(torch.arange(3), torch.arange(4)).T
    expected = ssim(fakes[i].double(), reals[j].double(), data_range=1.0, reduction="none")
    exact = pairwise_ssim(fakes, reals, dtype=torch.float64)
    assert torch.allclose(exact, expected.view(3, 4), atol=1e-9)
    assert torch.allclose(pairwise_ssim(fakes, reals), exact.float(), atol=1e-5)  # the default
    reals[2] = fakes[1]
    best = best_ssim(fakes, reals)
    assert best[1] == pytest.approx(1.0) and best[0] < 0.5


# ---- Inception, offline -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def inception_weights(tmp_path_factory, monkeypatch_module):
    """A randomly initialised state dict of torch-fidelity's Inception, in the real file format."""
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    monkeypatch_module.setattr(fe, "load_state_dict_from_url", lambda *a, **k: None)
    monkeypatch_module.setattr(
        fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None
    )
    torch.manual_seed(0)
    net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    path = tmp_path_factory.mktemp("hub") / INCEPTION_FILE
    torch.save(nn.Module.state_dict(net), path)
    monkeypatch_module.undo()
    return path


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_inception_loads_from_local_file_and_scores_a_run(inception_weights, cfg_factory, tmp_path):
    extractor = load_extractor("inception", str(inception_weights))
    feats, logits = extractor(torch.rand(1, 1, 28, 28))  # grey images are repeated to RGB
    assert feats.shape == (1, 2048) and logits.shape == (1, 1008)

    on = cfg_factory(
        *FAST,
        "metrics.every_n_epochs=1",
        f"metrics.inception_weights={inception_weights}",
        "metrics.n_samples=4",
        "metrics.memorisation_n_train=8",  # Inception on 299 px is ~0.1 s an image here
        out=tmp_path / "on",
    )
    result = train(on)
    assert np.isfinite(result["val/fid"]) and "val/kid" in result and "val/is" in result
    with (tmp_path / "on" / "metrics.csv").open() as f:
        assert "val/fid" in next(csv.DictReader(f))

    # The 96 MB network stays in the callback: checkpoints are as large as without metrics.
    train(cfg_factory(*FAST, "metrics=off", out=tmp_path / "off"))
    size_on = (tmp_path / "on" / "checkpoints" / "last.ckpt").stat().st_size
    size_off = (tmp_path / "off" / "checkpoints" / "last.ckpt").stat().st_size
    assert abs(size_on - size_off) <= 0.01 * size_off


def test_without_weights_training_goes_on_with_one_message(
    cfg_factory, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv(
        "TORCH_HOME", str(tmp_path / "empty_hub")
    )  # no cached weights, no internet used
    with caplog.at_level(logging.WARNING):
        result = train(cfg_factory(*FAST, "metrics.every_n_epochs=1"))
    messages = [r.getMessage() for r in caplog.records if "Inception metrics" in r.getMessage()]
    assert len(messages) == 1
    assert (
        "are off" in messages[0]
        and INCEPTION_FILE in messages[0]
        and "metrics.inception_weights" in messages[0]
    )
    assert "train/g_loss_epoch" in result and "val/fid" not in result
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").exists()


def test_required_inception_stops_at_once(tmp_path, gan_lab_cli):
    """`gan-lab train` in-process (test_schema starts train.py itself for the same exit path)."""
    code, _, stderr = gan_lab_cli(
        "train",
        "metrics.required=true",
        f"metrics.inception_weights={tmp_path / 'nowhere.pth'}",
        f"hydra.run.dir={tmp_path / 'out'}",
    )
    assert code == 2 and "Traceback" not in stderr
    assert "Inception metrics" in stderr and str(tmp_path / "nowhere.pth") in stderr
    assert not (tmp_path / "out" / "checkpoints").exists()


def test_unknown_extractor_file_is_a_user_error(tmp_path):
    (tmp_path / "x.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="extractor"):
        load_extractor(str(tmp_path / "x.pt"))
