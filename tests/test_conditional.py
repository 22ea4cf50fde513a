"""Conditional GANs (design §2.6) and training on a subset of classes (004's "only the digit 7")."""

import lightning as L
import pytest
import torch
from conftest import QUIET
from PIL import Image

from gan_lab.config.validate import check_config
from gan_lab.errors import UserError
from gan_lab.models.layers import ClassBatchNorm2d
from gan_lab.training.checkpoint import load_gan
from gan_lab.training.sampling import sample
from gan_lab.training.train import build, train


class Labels(L.Callback):
    """Records the class labels of every training batch."""

    def __init__(self):
        self.seen = set()

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.seen |= set(batch[1].tolist())


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    from conftest import QUIET, TINY, make_cfg

    out = tmp_path_factory.mktemp("cond") / "run"
    train(make_cfg(out, [*TINY, *QUIET, "model.conditional=true", "trainer.max_epochs=1"]))
    return out


@pytest.mark.parametrize("conditioning", ["concat", "projection"])
def test_generator_output_depends_on_the_label(cfg_factory, conditioning):
    module, _ = build(
        cfg_factory("model.conditional=true", f"discriminator.conditioning={conditioning}")
    )
    assert module.generator.num_classes == 5 and module.discriminator.num_classes == 5
    z = torch.randn(1, module.generator.latent_dim).expand(5, -1)
    images = module.generate(z, torch.arange(5))
    assert not torch.allclose(images[0], images[1], atol=1e-4)
    logits = module.discriminator(images, torch.arange(5))
    other = module.discriminator(images, torch.tensor([1, 2, 3, 4, 0]))
    assert not torch.allclose(logits, other)


def test_grid_has_one_row_per_class(conditional_run):
    with Image.open(conditional_run / "samples" / "epoch_0001.png") as im:
        assert im.size == (8 * 34 + 2, 5 * 34 + 2)  # 8 columns, 5 classes, 32 px + 2 px padding
    ckpt = torch.load(conditional_run / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["state_dict"]["fixed_y"].tolist() == [k for k in range(5) for _ in range(8)]
    assert ckpt["gan_lab"]["config"]["classes"] == ["circle", "square", "triangle", "ring", "cross"]


def test_sample_writes_one_folder_per_class_or_only_class_k(conditional_run, tmp_path):
    ckpt = conditional_run / "checkpoints" / "last.ckpt"
    sample(ckpt=str(ckpt), n=3, out_dir=tmp_path / "all")
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == [
        "circle",
        "cross",
        "ring",
        "square",
        "triangle",
    ]
    assert all(len(list(d.glob("*.png"))) == 3 for d in (tmp_path / "all").iterdir())
    sample(ckpt=str(ckpt), n=4, out_dir=tmp_path / "k", class_=3)
    assert [p.name for p in (tmp_path / "k").iterdir()] == ["ring"]
    assert len(list((tmp_path / "k" / "ring").glob("*.png"))) == 4
    sample(ckpt=str(ckpt), n=2, out_dir=tmp_path / "byname", class_="cross")
    assert [p.name for p in (tmp_path / "byname").iterdir()] == ["cross"]


def test_unknown_class_is_a_clear_error(conditional_run, tmp_path):
    from gan_lab.errors import UserError

    with pytest.raises(UserError, match="not one of this generator's classes"):
        sample(
            ckpt=str(conditional_run / "checkpoints" / "last.ckpt"), n=1, out_dir=tmp_path, class_=9
        )


def test_only_the_digit_7(cfg_factory, tmp_path):
    from test_data import write_idx

    write_idx(tmp_path / "mnist", n=60)
    labels = Labels()
    cfg = cfg_factory(
        "experiment=mnist",
        f"data.root={tmp_path / 'mnist'}",
        "data.classes=[7]",
        "trainer.max_epochs=1",
        *QUIET,
        out=tmp_path / "run",
    )
    train(cfg, callbacks=[labels])
    assert labels.seen == {7}


def test_conditional_on_a_subset_asks_only_for_those_classes(cfg_factory, tmp_path):
    labels = Labels()
    cfg = cfg_factory(
        "model.conditional=true",
        "data.classes=[ring,cross]",
        "trainer.max_epochs=1",
        *QUIET,
        out=tmp_path / "run",
    )
    train(cfg, callbacks=[labels])
    assert labels.seen == {3, 4}
    fixed_y = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)[
        "state_dict"
    ]["fixed_y"]
    assert set(fixed_y.tolist()) == {3, 4} and len(fixed_y) == 16


def test_invert_and_interpolate_take_a_class(conditional_run, tmp_path):
    from test_invert import invert_cfg

    from gan_lab.errors import UserError
    from gan_lab.latent.run import run
    from gan_lab.training.sampling import sample

    ckpt = conditional_run / "checkpoints" / "last.ckpt"
    target = sample(ckpt=str(ckpt), n=1, out_dir=tmp_path / "t", class_="ring")[0]
    result = run(
        invert_cfg(tmp_path / "inv", f"ckpt={ckpt}", f"target={target}", "class=ring", "steps=20")
    )
    assert (tmp_path / "inv" / "z.pt").exists() and result["mse"] >= 0
    run(
        invert_cfg(
            tmp_path / "interp",
            f"ckpt={ckpt}",
            f"z={tmp_path / 'inv' / 'z.pt'}",
            f"z_b={tmp_path / 'inv' / 'z.pt'}",
            "mode=interpolate",
            "class=3",
        )
    )
    assert list((tmp_path / "interp").glob("*.gif"))
    with pytest.raises(UserError, match="conditional generator: choose its class"):
        run(invert_cfg(tmp_path / "no", f"ckpt={ckpt}", f"target={target}"))


def test_class_batchnorm_gives_each_class_its_own_gain_and_shift(cfg_factory):
    module, _ = build(
        cfg_factory(
            "model.conditional=true",
            "generator.conditioning=batchnorm",
            "generator.batch_norm=true",
        )
    )
    g = module.generator.eval()
    norms = [m for m in g.modules() if isinstance(m, ClassBatchNorm2d)]
    assert norms and not any(type(m) is torch.nn.BatchNorm2d for m in g.modules())
    z = torch.randn(1, g.latent_dim).expand(5, -1)
    before = g(z, torch.arange(5))
    with torch.no_grad():
        norms[0].shift.weight[2] += 1.0  # only class 2's shift
    after = g(z, torch.arange(5))
    changed = (after - before).flatten(1).abs().amax(1) > 1e-4
    assert changed.tolist() == [False, False, True, False, False]


def test_class_batchnorm_needs_batchnorm(cfg_factory):
    cfg = cfg_factory(
        "model.conditional=true", "generator.conditioning=batchnorm", "generator.batch_norm=false"
    )
    with pytest.raises(UserError, match="generator.conditioning=batchnorm needs"):
        check_config(cfg)  # before anything is built


def test_class_loss_trains_an_auxiliary_classifier(tmp_path):
    from conftest import TINY, make_cfg

    overrides = TINY + ["model.conditional=true", "model.class_loss=1", "trainer.max_epochs=1"]
    overrides += QUIET
    L.seed_everything(0, workers=True, verbose=False)  # as train() does before it builds
    initial = build(make_cfg(tmp_path / "b", overrides))[0].discriminator.classify.state_dict()
    out = tmp_path / "run"
    train(make_cfg(out, overrides))
    gan = load_gan(out / "checkpoints" / "last.ckpt")  # the run config rebuilds the head
    head = gan.discriminator().classify
    assert head is not None and head.out_features == 5
    trained = head.state_dict()
    assert trained.keys() == initial.keys()
    learnt = [k for k in trained if not k.endswith(("_u", "_v"))]  # not spectral norm's vectors
    assert learnt and all(not torch.equal(trained[k], initial[k]) for k in learnt)


def test_class_loss_is_for_conditional_runs_only(cfg_factory):
    module, _ = build(cfg_factory("model.class_loss=1"))  # the preset's value, no labels
    assert module.discriminator.classify is None and module.class_loss == 0
