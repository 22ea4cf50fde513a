"""The user-trained feature extractor end to end on the built-in set, the SSIM curve, and
gan-lab score naming the best checkpoint for ckpt=best@<run_dir>."""

import csv

import pytest
import torch
from conftest import TINY, make_cfg

from gan_lab.cli.score import main as score_main
from gan_lab.errors import UserError
from gan_lab.metrics.classifier import data_config, train_extractor
from gan_lab.metrics.extractors import load_extractor
from gan_lab.metrics.images import real_subset
from gan_lab.metrics.scorer import Scorer
from gan_lab.metrics.scores import score_run
from gan_lab.training.checkpoint import resolve_checkpoint
from gan_lab.training.sampling import sample
from gan_lab.training.train import train


@pytest.fixture(scope="module")
def shapes_extractor(tmp_path_factory):
    out = tmp_path_factory.mktemp("extractor") / "shapes.pt"
    data = data_config("builtin", ["data.num_images=640"])
    return out, train_extractor(data, out, epochs=3)


def test_extractor_augment_trains_on_the_data_groups_augmentation(tmp_path):
    overrides = ["data.num_images=128", "data.augment.zoom=0.2", "data.augment.rotate=20"]
    data = data_config("builtin", overrides)
    plain = train_extractor(data, tmp_path / "plain.pt", epochs=1, holdout=0.25)
    augmented = train_extractor(data, tmp_path / "aug.pt", epochs=1, holdout=0.25, augment=True)
    # Same seed, split and start: only the augmented batches can make the weights differ.
    a, b = plain.net.state_dict(), augmented.net.state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a if a[k].is_floating_point())
    again = train_extractor(data, tmp_path / "again.pt", epochs=1, holdout=0.25)
    assert all(torch.equal(a[k], v) for k, v in again.net.state_dict().items())


@pytest.fixture(scope="module")
def scored_run(tmp_path_factory, shapes_extractor):
    """3 epochs, a checkpoint each, metrics in the extractor's space every epoch, SSIM every 2 steps."""
    out = tmp_path_factory.mktemp("scored") / "run"
    overrides = TINY + [
        "trainer.max_epochs=3",
        "callbacks.samples=null",
        f"metrics.extractor={shapes_extractor[0]}",
        "metrics.every_n_epochs=1",
        "metrics.n_samples=64",
        "metrics.ssim_every_n_steps=2",
        "metrics.ssim_n_real=32",
        "metrics.ssim_n_fake=8",
    ]
    train(make_cfg(out, overrides))
    return out


def test_extractor_learns_the_builtin_classes_and_separates_real_from_fake(
    shapes_extractor, trained_run
):
    path, trained = shapes_extractor
    assert trained.accuracy > 0.8 and len(trained.classes) == 5
    extractor = load_extractor(str(path))  # rebuilt from the file alone
    dm = data_config("builtin", ["data.num_images=400", "data.seed=1"])
    from hydra.utils import instantiate

    images = instantiate(dm, _convert_="all")
    images.load()
    reals = real_subset(images.images, 400)
    scorer = Scorer(extractor, batch_size=100)
    scorer.add_real(reals[:200])
    real_vs_real = scorer.score(reals[200:])["val/fid_shapes"]
    from gan_lab.metrics.images import generate_unit
    from gan_lab.training.checkpoint import load_gan

    gan = load_gan(trained_run / "checkpoints" / "last.ckpt")
    fakes = generate_unit(gan.generator, gan.noise, 200, seed=0, batch_size=100)
    real_vs_fake = scorer.score(fakes)["val/fid_shapes"]
    assert real_vs_real < real_vs_fake / 3  # a 2-epoch generator is far from the data


def test_training_logs_the_extractor_metrics_under_its_own_name(scored_run):
    with (scored_run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3
    for row in rows:
        assert float(row["val/fid_shapes"]) > 0 and float(row["val/is_shapes"]) >= 1
        assert "val/fid" not in row  # never confused with Inception FID
    with (scored_run / "ssim.csv").open() as f:
        ssim = list(csv.DictReader(f))
    assert len(ssim) == 6 and all(-1 <= float(r["ssim"]) <= 1 for r in ssim)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(scored_run / "tensorboard"))
    events.Reload()
    assert {"val/fid_shapes", "val/kid_shapes", "val/is_shapes", "val/ssim"} <= set(
        events.Tags()["scalars"]
    )
    assert len(events.Scalars("val/ssim")) == 6  # a curve, not a single point


def test_score_writes_the_table_and_best_selects_it(scored_run, tmp_path, capsys):
    with pytest.raises(UserError, match="gan-lab score"):
        resolve_checkpoint(f"best@{scored_run}")
    score_main([f"run_dir={scored_run}", "n_samples=64"])
    printed = capsys.readouterr().out
    with (scored_run / "scores.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["checkpoint"] for r in rows] == [f"checkpoints/epoch_000{i}.ckpt" for i in (1, 2, 3)]
    best = [r for r in rows if r["best"] == "yes"]
    assert len(best) == 1 and float(best[0]["val/fid_shapes"]) == min(
        float(r["val/fid_shapes"]) for r in rows
    )
    assert best[0]["checkpoint"] in printed and "**best**" in (scored_run / "scores.md").read_text()
    chosen = scored_run / best[0]["checkpoint"]
    assert resolve_checkpoint(f"best@{scored_run}") == chosen
    assert resolve_checkpoint(scored_run / "best") == chosen
    files = sample(ckpt=f"best@{scored_run}", n=2, out_dir=tmp_path / "s")
    assert len(files) == 2
    # Scoring is deterministic: the same seed gives the same table.
    again = score_run(scored_run, n_samples=64)
    assert [r["val/fid_shapes"] for r in again] == pytest.approx(
        [float(r["val/fid_shapes"]) for r in rows]
    )


def test_score_without_checkpoints_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no checkpoints"):
        score_run(tmp_path)


def test_extractor_refuses_images_with_other_channels(shapes_extractor):
    extractor = load_extractor(str(shapes_extractor[0]))
    with pytest.raises(UserError, match="3-channel"):
        extractor(torch.rand(2, 1, 32, 32))


def test_cost_tool_measures_the_extractor(shapes_extractor, capsys):
    from gan_lab.cli.cost import main as cost_main

    cost_main([f"extractor={shapes_extractor[0]}", "n=20"])
    assert "s per 1,000 images" in capsys.readouterr().out
