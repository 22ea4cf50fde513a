"""Truncation ψ (gan_lab.core.truncation): z' = z̄ + ψ (z − z̄) for gan-lab sample, gan_lab.sample,
the sample grids (callbacks.samples.psi) and gan-lab score's ψ curve (psi.csv, psi.png)."""

import csv
import logging
import shutil

import pytest
import torch
from PIL import Image

import gan_lab
from gan_lab.core.noise import Gamma, Noise, Normal, Uniform
from gan_lab.core.truncation import mean_latent, truncate
from gan_lab.errors import UserError
from gan_lab.metrics.images import seeded_inputs
from gan_lab.runs import layout
from gan_lab.training.train import train

KINDS = [Normal(0.5, 2.0), Uniform(-1.0, 3.0), Gamma(2.0, 1.5)]
MEANS = [0.5, 1.0, 3.0]  # m, (a + b)/2, k·θ


class Mixture(Noise):
    """A kind without a closed-form mean in torch: ±2 with equal odds, plus N(0, 0.1)."""

    def distribution(self, device):
        from torch import distributions as dist

        mix = dist.Categorical(torch.tensor([0.5, 0.5], device=device))
        parts = dist.Normal(torch.tensor([-2.0, 2.0], device=device), 0.1)
        return dist.MixtureSameFamily(mix, parts)


def test_psi_one_leaves_z_bit_identical_and_psi_zero_gives_the_mean_latent_of_every_kind():
    for noise, mean in zip(KINDS, MEANS, strict=True):
        z = noise.sample(64, 8)
        assert truncate(z, noise, 1.0) is z  # no arithmetic at all: the same tensor
        assert torch.equal(truncate(z, noise, 0.0), torch.full((64, 8), mean))
        half = truncate(z, noise, 0.5)
        assert torch.allclose(half, mean + 0.5 * (z - mean))
        # The seeded draws of the metrics and gan_lab.sample: ψ=1 is the draw of old, bit for bit.
        g = torch.nn.Linear(8, 1)
        g.latent_dim = 8
        plain, _ = seeded_inputs(g, noise, 16, 7, "cpu")
        assert torch.equal(seeded_inputs(g, noise, 16, 7, "cpu", psi=1.0)[0], plain)
    # Gamma and uniform latents stay inside the support at every ψ in [0, 1].
    z = Gamma(2.0, 1.5).sample(256, 8)
    assert (truncate(z, Gamma(2.0, 1.5), 0.3) > 0).all()
    # No closed-form mean: a seeded Monte Carlo one (the true mean is 0), the RNG left as it was.
    state = torch.get_rng_state()
    center = mean_latent(Mixture(), 8)
    assert torch.equal(torch.get_rng_state(), state)
    assert center.abs().max() < 0.05 and torch.equal(center, mean_latent(Mixture(), 8))
    with pytest.raises(UserError, match=r"psi=1\.5.*\[0\.0, 1\.0\]"):
        truncate(z, Gamma(), 1.5)


def test_a_truncated_sample_spreads_less_and_the_sample_command_says_psi(
    trained_run, tmp_path, gan_lab_cli
):
    g = gan_lab.load(trained_run / "checkpoints" / "last.ckpt")
    full, half = gan_lab.sample(g, 64, seed=1), gan_lab.sample(g, 64, seed=1, psi=0.5)
    assert torch.equal(gan_lab.sample(g, 64, seed=1, psi=1.0), full)
    spread = {psi: x.std(dim=0).mean().item() for psi, x in ((1.0, full), (0.5, half))}
    assert spread[0.5] < 0.9 * spread[1.0], spread  # the same z pulled in: less variety
    one = gan_lab.sample(g, 4, seed=1, psi=0.0)
    assert torch.allclose(one, one[:1].expand_as(one), atol=1e-6)  # ψ=0: one image, G(z̄)

    ckpt = f"ckpt={trained_run}/checkpoints/last.ckpt"
    code, out, _ = gan_lab_cli("sample", ckpt, "n=3", f"out_dir={tmp_path / 's'}", "psi=0.5")
    assert code in (0, None)
    assert "wrote 3 images at psi=0.5 (truncated toward the mean latent" in out
    files = sorted((tmp_path / "s").glob("*.png"))
    assert [f.name for f in files] == [f"sample_{i:05d}.png" for i in range(3)]
    code, out, _ = gan_lab_cli("sample", ckpt, "n=3", f"out_dir={tmp_path / 'p'}", "psi=1")
    assert "at psi" not in out
    truncated, plain = (Image.open(tmp_path / d / "sample_00000.png") for d in ("s", "p"))
    assert truncated.tobytes() != plain.tobytes()
    code, _, err = gan_lab_cli("sample", ckpt, "n=3", f"out_dir={tmp_path / 'x'}", "psi=1.5")
    assert code == 2 and "psi=1.5 is not valid" in err and not (tmp_path / "x").exists()


def test_grids_at_a_psi_set_on_resume_are_labelled_in_the_file_log_and_report(
    trained_run, tmp_path, cfg_factory, caplog
):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    resume = [f"ckpt_path={run}/checkpoints/last.ckpt", "trainer.max_epochs=3"]
    args = [*resume, "callbacks.samples.psi=0.5", "callbacks.samples.gif=false"]
    with caplog.at_level(logging.WARNING):
        train(cfg_factory(*args, out=run), overrides=["debug=tiny", *args])
    assert "sample grids are drawn at psi=0.5" in caplog.text
    label = {e: Image.open(p).info.get(layout.GRID_PSI) for e, p in layout.grids(run)}
    assert label == {0: None, 1: None, 2: None, 3: "0.5"}  # each grid says how it was drawn
    page = (run / layout.REPORT).read_text()
    assert "epoch 3, the latest grid, truncated ψ=0.5" in page
    assert "epoch 2, truncated" not in page and "epoch 3, truncated ψ=0.5" in page
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / layout.TENSORBOARD), size_guidance={"images": 0})
    events.Reload()
    shown = {tag: len(events.Images(tag)) for tag in events.Tags()["images"]}
    assert shown == {"samples/fixed_noise": 3, "samples/fixed_noise_psi0.5": 1}  # never mixed


@pytest.fixture(scope="module")
def random_extractor(tmp_path_factory):
    """A fixed random SmallCNN as the feature space: no training, no Inception."""
    from gan_lab.metrics.classifier import ClassifierFeatures, SmallCNN

    torch.manual_seed(0)
    net = SmallCNN(3, 32, 5, width=8, feature_dim=16)
    path = tmp_path_factory.mktemp("extractor") / "rand.pt"
    return ClassifierFeatures(net, "rand", list("abcde"), 0.0).save(path)


def test_score_draws_the_psi_curve_of_the_best_checkpoint(
    trained_run, tmp_path, random_extractor, gan_lab_cli
):
    run = tmp_path / "run"
    shutil.copytree(trained_run / "checkpoints", run / "checkpoints")
    code, out, _ = gan_lab_cli(
        "score",
        f"run_dir={run}",
        f"extractor={random_extractor}",
        "n_samples=32",
        "psi_curve=[1.0,0.5,0.0]",
    )
    assert code in (0, None)
    with (run / layout.SCORES_CSV).open() as f:
        best = next(r for r in csv.DictReader(f) if r["best"] == "yes")
    with (run / layout.PSI_CSV).open() as f:
        rows = list(csv.DictReader(f))
    assert [float(r["psi"]) for r in rows] == [1.0, 0.5, 0.0]  # one row per ψ, as asked
    assert {r["checkpoint"] for r in rows} == {best["checkpoint"]}
    for key in ("val/fid_rand", "val/fid_rand_floor", "val/precision_rand", "val/recall_rand"):
        assert rows[0][key] == best[key]  # ψ = 1 is the score's own row: same reals, same k
    for r in rows:
        assert float(r["val/fid_rand"]) >= 0
        assert all(0 <= float(r[f"val/{k}_rand"]) <= 1 for k in ("precision", "recall"))
    assert float(rows[2]["val/recall_rand"]) == 0  # ψ=0: one image, its k-NN radius is 0
    assert "psi 0.5: val/fid_rand" in out and str(run / layout.PSI_CSV) in out
    assert Image.open(run / layout.PSI_PNG).size[0] > 300
    code, _, err = gan_lab_cli("score", f"run_dir={run}", "psi_curve=[1.2]")
    assert code == 2 and "psi_curve=[1.2] is not valid" in err
