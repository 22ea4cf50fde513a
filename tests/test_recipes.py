"""The small-data recipe options each do what they say: EMA, hinge, WGAN-GP, spectral norm,
DiffAugment, R1."""

import pytest
import torch
from conftest import QUIET, bare
from torch import nn

from gan_lab.config.validate import check_config
from gan_lab.core.diffaug import color, cutout, diff_augment, parse_policy, translation
from gan_lab.core.ema import ema_decay, make_ema
from gan_lab.core.losses import build_loss, gradient_penalty
from gan_lab.errors import UserError
from gan_lab.models.layers import ClassBatchNorm2d
from gan_lab.training import recipe
from gan_lab.training.train import build, make_trainer


def test_ema_equals_the_analytic_average_on_a_toy():
    net = nn.Linear(1, 1, bias=False)
    ema = make_ema(net, decay=0.9)
    values = [1.0, 2.0, 4.0, -3.0, 0.5]
    expected = net.weight.item()  # the average starts as a copy
    with torch.no_grad():
        for n, v in enumerate(values):
            net.weight.fill_(v)
            ema.update_parameters(net)
            d = 0.0 if n == 0 else ema_decay(0.9, n)  # AveragedModel copies on the first update
            expected = expected * d + v * (1 - d)
    # fp32 arithmetic on values up to 4: a few roundings of 4·eps each (the sum cancels to 0.04)
    tolerance = 8 * torch.finfo(torch.float32).eps * max(map(abs, values))
    assert ema.module.weight.item() == pytest.approx(expected, abs=tolerance)
    assert ema_decay(0.9, 1) == pytest.approx(2 / 11)  # warm-up: early averages move fast
    assert ema_decay(0.9, 10_000) == 0.9


def test_hinge_loss_values(cfg_factory):
    hinge = build_loss("hinge")
    logits = torch.tensor([2.0, 0.5, -2.0, 0.0])
    targets = torch.tensor([1.0, 0.97, 0.0, 0.03])  # label noise does not matter, only the side
    # reals: relu(1-2)=0, relu(1-0.5)=0.5; fakes: relu(1-2)=0, relu(1+0)=1 → mean 0.375
    assert hinge.d_loss(logits, targets).item() == pytest.approx(0.375)
    assert hinge.g_loss(torch.tensor([1.0, -3.0])).item() == pytest.approx(1.0)
    with pytest.raises(UserError, match="model.loss"):  # the schema names the valid ones
        check_config(cfg_factory("model.loss=wasserstein-typo"))


def test_wgan_loss_values():
    wgan = build_loss("wgan_gp")
    logits = torch.tensor([2.0, 0.5, -2.0, 0.0, 1.0])
    targets = torch.tensor([1.0, 0.97, 0.0, 0.03, 0.0])  # only the side counts
    # mean fake (-2 + 0 + 1) / 3 minus mean real (2 + 0.5) / 2
    assert wgan.d_loss(logits, targets).item() == pytest.approx(-1 / 3 - 1.25)
    assert wgan.g_loss(torch.tensor([1.0, -3.0])).item() == pytest.approx(1.0)


def test_gradient_penalty_is_zero_for_a_unit_gradient_and_positive_otherwise():
    torch.manual_seed(0)
    real, fake = torch.randn(8, 3, 8, 8), torch.randn(8, 3, 8, 8)
    w = torch.randn(3, 8, 8)
    w = w / w.norm()
    for scale, expected in ((1.0, 0.0), (2.0, 1.0), (0.5, 0.25)):  # ‖∇D‖ = scale everywhere
        gp = gradient_penalty(lambda x, s=scale: (x * w * s).flatten(1).sum(1), real, fake)
        assert gp.item() == pytest.approx(expected, abs=1e-6)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(144, 1))
    gp = gradient_penalty(net, real, fake)
    assert gp.item() > 0
    gp.backward()  # differentiable w.r.t. D's weights (a double backward)
    assert net[0].weight.grad.abs().sum() > 0


def test_gradient_penalty_under_bf16_autocast_matches_fp32():
    """The double backward runs through bf16 layers; the penalty stays within bf16's precision
    (8 bits: a relative 2^-8 per rounding, a few roundings deep) of the fp32 value."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 4, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(128, 1)
    )
    real, fake = torch.randn(16, 3, 8, 8), torch.randn(16, 3, 8, 8)
    values = []
    for bf16 in (False, True):
        torch.manual_seed(1)  # the same interpolates
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            gp = gradient_penalty(net, real, fake)
        assert gp.dtype == torch.float32
        net.zero_grad()
        gp.backward()
        # (the biases before a piecewise-linear layer do not move the gradient: no grad at all)
        grads = [p.grad for p in net.parameters() if p.grad is not None]
        assert net[0].weight.grad is not None and all(torch.isfinite(g).all() for g in grads)
        values.append(gp.item())
    assert values[1] == pytest.approx(values[0], rel=0.05, abs=1e-3)


def test_wgan_gp_trains_and_refuses_a_batchnorm_d(cfg_factory):
    cfg = bare(
        cfg_factory(
            "model.loss=wgan_gp",
            "model.d_steps=2",
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=2",
            "trainer.fast_path=off",
        )
    )
    check_config(cfg)
    module, dm = build(cfg)
    before = [
        p.detach().clone()
        for p in (*module.generator.parameters(), *module.discriminator.parameters())
    ]
    trainer = make_trainer(cfg, enable_checkpointing=False)
    trainer.fit(module, datamodule=dm)
    for key in ("train/d_loss_epoch", "train/g_loss_epoch"):
        assert torch.isfinite(trainer.callback_metrics[key])
    n_g = len(list(module.generator.parameters()))
    after = [*module.generator.parameters(), *module.discriminator.parameters()]
    moved = [not torch.equal(a, b) for a, b in zip(after, before, strict=True)]
    assert any(moved[:n_g]) and any(moved[n_g:])  # both networks learnt
    assert not module.nonfinite_events
    with pytest.raises(UserError, match="BatchNorm"):
        check_config(cfg_factory("model.loss=wgan_gp", "discriminator=dcgan", "generator=dcgan"))


def test_spectral_norm_bounds_every_layer(cfg_factory):
    torch.manual_seed(0)
    module, _ = build(cfg_factory("discriminator.spectral_norm=true"))
    d = module.discriminator.train()
    x = torch.rand(8, 3, 32, 32)
    for _ in range(100):  # power iterations converge during forward passes in train mode
        d(x)
    for m in d.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            w = m.weight.flatten(1) if isinstance(m, nn.Linear) else m.weight.flatten(1)
            assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(1.0, abs=0.05)


def test_diffaugment_is_differentiable_and_changes_images(cfg_factory):
    x = torch.rand(6, 3, 16, 16, requires_grad=True)
    for op in (color, translation, cutout):
        y = op(x)
        assert y.shape == x.shape and not torch.allclose(y, x)
        (g,) = torch.autograd.grad(y.sum(), x)
        assert g.abs().sum() > 0, op.__name__
    assert len(parse_policy("color,translation,cutout")) == 3
    with pytest.raises(UserError, match="model.diffaug"):
        check_config(cfg_factory("model.diffaug=[color,rotate90]"))


def test_diffaugment_sees_real_and_fake_alike(cfg_factory, monkeypatch):
    """Every image D sees — real and fake, in both phases — goes through the augmentation."""
    import gan_lab.core.step as step_mod

    calls = []

    def spy(x, ops):
        calls.append(x.shape[0])
        return diff_augment(x, ops)

    monkeypatch.setattr(step_mod, "diff_augment", spy)
    cfg = bare(
        cfg_factory(
            "model.diffaug=[color,translation,cutout]",
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=1",
            "model.g_batch=fake",
        )
    )
    module, dm = build(cfg)
    make_trainer(cfg, enable_checkpointing=False).fit(module, datamodule=dm)
    assert calls == [64, 32]  # D phase: 32 real + 32 fake together; G phase: 32 fake


def test_r1_penalty_is_added_to_d_loss(cfg_factory):
    module, dm = build(cfg_factory("model.r1_gamma=10", "model.label_noise=0"))
    real = dm.to_model_range(dm.images[:8]).requires_grad_(True)
    logits = module.discriminator(real)
    (grad,) = torch.autograd.grad(logits.sum(), real)
    assert grad.pow(2).flatten(1).sum(1).mean() > 0  # there is something to penalise
    losses = {}
    for gamma in (0.0, 10.0):
        torch.manual_seed(0)
        cfg = bare(
            cfg_factory(
                f"model.r1_gamma={gamma}",
                "model.label_noise=0",
                "trainer.max_epochs=1",
                "trainer.limit_train_batches=1",
            )
        )
        module, dm = build(cfg)
        trainer = make_trainer(cfg, enable_checkpointing=False)
        trainer.fit(module, datamodule=dm)
        losses[gamma] = trainer.callback_metrics["train/d_loss_epoch"].item()
    assert losses[10.0] > losses[0.0]


def test_ema_run_uses_averaged_generator_for_grids_and_tools(cfg_factory, tmp_path):
    from gan_lab.training.checkpoint import load_gan
    from gan_lab.training.train import train

    cfg = cfg_factory("model.ema=0.99", "trainer.max_epochs=1", *QUIET, out=tmp_path / "run")
    train(cfg)
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    state = torch.load(ckpt, weights_only=True)["state_dict"]
    assert state["generator_ema.n_averaged"].item() == 4  # one update per G step
    live, avg = load_gan(ckpt, ema=False).generator, load_gan(ckpt).generator
    k = "project.0.weight"
    assert torch.equal(avg.state_dict()[k], state[f"generator_ema.module.{k}"])
    assert not torch.equal(live.state_dict()[k], avg.state_dict()[k])


@pytest.mark.slow
def test_compiled_training_keeps_plain_checkpoints(cfg_factory, tmp_path):
    """model.compile=true trains (torch.compile needs a C++ compiler on CPU: ~1 min here)."""
    from gan_lab.training.checkpoint import load_gan
    from gan_lab.training.train import train

    metrics = train(cfg_factory("model.compile=true", "trainer.max_epochs=1", out=tmp_path / "run"))
    assert abs(metrics["train/g_loss_epoch"]) < 100
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    state = torch.load(ckpt, weights_only=True)["state_dict"]
    assert not any(
        "_orig_mod" in k for k in state
    )  # compiled callables stay out of the module tree
    assert load_gan(ckpt).generator(torch.randn(2, 128)).shape == (2, 3, 32, 32)


@pytest.mark.parametrize("data", ["builtin", "cakes"])
def test_small_data_preset_is_the_measured_recipe_on_any_data(cfg_factory, data):
    """benchmarks/README.md's winner on the digits: 64×64, batch 8, fast pair, hinge, EMA."""
    cfg = cfg_factory("experiment=small_data", f"data={data}", tiny=False)
    recipe.resolve_before_data(cfg)
    recipe.resolve(cfg, 300, 64)  # as train.build does: the preset sets recipe=fixed
    assert (cfg.data.image_size, cfg.data.batch_size) == (64, 8)
    assert cfg.model.loss == "hinge" and cfg.model.ema == 0.999 and cfg.model.r1_gamma == 0
    assert cfg.model.diffaug is None and not cfg.data.augment.flip  # no augmentation at all
    assert cfg.discriminator.spectral_norm and not cfg.discriminator.batch_norm
    assert cfg.generator.upsample == "nearest"
    module, _ = build(bare(cfg_factory("experiment=small_data", "data.num_images=64")))
    assert module.generator(module.fixed_z[:2], None).shape == (2, 3, 64, 64)
    assert not module.diffaug_ops and module.generator_ema is not None
    # Plain BatchNorm and no class head here; conditional runs get the class BatchNorm of G and
    # the auxiliary classifier of D.
    assert module.discriminator.classify is None and module.class_loss == 0
    assert not any(isinstance(m, ClassBatchNorm2d) for m in module.generator.modules())
    cond, _ = build(
        bare(cfg_factory("experiment=small_data", "data.num_images=64", "model.conditional=true"))
    )
    assert cond.class_loss == 1 and cond.discriminator.classify is not None
    assert any(isinstance(m, ClassBatchNorm2d) for m in cond.generator.modules())
