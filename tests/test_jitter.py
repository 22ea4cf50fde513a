"""invert.py mode=jitter: 000's random small changes of a latent vector (gan_lab/latent/jitter.py)."""

import csv

import pytest
import torch
from test_invert import invert_cfg

from gan_lab.errors import UserError
from gan_lab.latent import jitter
from gan_lab.latent.run import run
from gan_lab.models import to_unit
from gan_lab.runs import layout
from gan_lab.training.checkpoint import load_gan


def _asked(**keys) -> dict:
    return {"n": 8, "amount": 0.1, "noise": "normal", "coords": 10, "seed": 0, **keys}


def test_variants_change_what_was_asked_and_no_more():
    z = torch.randn(1, 128)
    # 000's procedure: 10 random coordinates per variant, amount × randn
    changed, delta = jitter.variants(z, _asked())
    assert changed.shape == (8, 128) and torch.equal(changed, z + delta)
    assert ((delta != 0).sum(1) == 10).all()
    assert len({tuple((d != 0).nonzero().flatten().tolist()) for d in delta}) > 1  # random picks
    # uniform on every coordinate: every change within ±amount
    _, delta = jitter.variants(z, _asked(noise="uniform", coords=None, amount=0.1))
    assert (delta != 0).all() and delta.abs().max() <= 0.1
    # a seed gives the same changes, another seed others
    again = jitter.variants(z, _asked(seed=5))[0]
    assert torch.equal(again, jitter.variants(z, _asked(seed=5))[0])
    assert not torch.equal(again, jitter.variants(z, _asked(seed=6))[0])
    assert torch.equal(jitter.variants(z, _asked(amount=0))[0], z.expand(8, -1))


@pytest.mark.parametrize(
    ("keys", "words"),
    [
        ({"n": 0}, "jitter.n"),
        ({"amount": -0.1}, "jitter.amount"),
        ({"noise": "gamma"}, "jitter.noise"),
        ({"coords": 0}, "jitter.coords"),
    ],
)
def test_bad_jitter_keys_are_user_errors(keys, words):
    with pytest.raises(UserError, match=words):
        jitter.check(_asked(**keys))


@pytest.fixture(scope="module")
def ckpt(trained_run):
    return layout.last_checkpoint(trained_run)


def test_jitter_mode_writes_the_original_and_its_variants(ckpt, tmp_path):
    gan = load_gan(ckpt)
    z = gan.noise.sample(1, gan.generator.latent_dim)
    torch.save(z, tmp_path / "z.pt")
    asked = ["jitter.n=5", "jitter.noise=uniform", "jitter.coords=null", "jitter.amount=0.3"]
    cfg = invert_cfg(tmp_path, "mode=jitter", f"ckpt={ckpt}", f"z={tmp_path / 'z.pt'}", *asked)
    result = run(cfg)
    images = result["images"]
    assert len(images) == 6  # the original first, then the 5 variants
    with torch.no_grad():
        assert torch.equal(images[0], to_unit(gan.generator(z)[0], gan.value_range))
    vectors = torch.load(tmp_path / layout.JITTER_Z, weights_only=True)
    assert vectors.shape == (6, 128) and torch.equal(vectors[0], z[0])
    assert (vectors[1:] - z).abs().max() <= 0.3 + 1e-6 and ((vectors[1:] - z) != 0).all()
    with open(tmp_path / layout.JITTER_CSV) as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == jitter.COLUMNS and [r["variant"] for r in rows] == list("012345")
    assert all(float(r["pixel_mse"]) > 0 and r["changed"] == "128" for r in rows[1:])
    assert float(rows[1]["pixel_mse"]) == pytest.approx(
        (images[1] - images[0]).pow(2).mean().item(), rel=1e-5
    )
    assert (tmp_path / layout.JITTER_PNG).stat().st_size > 0
    assert "Random changes" in (tmp_path / layout.REPORT).read_text()


def test_amount_zero_gives_the_original_again_and_too_many_coords_are_refused(ckpt, tmp_path):
    cfg = invert_cfg(tmp_path, "mode=jitter", f"ckpt={ckpt}", "jitter.amount=0", "jitter.n=3")
    images = run(cfg)["images"]  # no z, no target: a random vector drawn with seed=0
    assert len(images) == 4 and all(torch.equal(image, images[0]) for image in images)
    bad = invert_cfg(tmp_path / "o", "mode=jitter", f"ckpt={ckpt}", "jitter.coords=999")
    with pytest.raises(UserError, match=r"jitter.coords=999.*128 coordinates"):
        run(bad)
