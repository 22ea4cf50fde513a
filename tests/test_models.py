"""Every preset composes and builds networks of exactly the shapes design §2 gives."""

import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from gan_lab.training import recipe

GENERATORS = ["transposed", "upsample", "dcgan", "mnist", "small32"]
DISCRIMINATORS = ["reference", "dcgan", "mnist", "small32"]


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def settled(cfg_factory, *overrides):
    cfg = cfg_factory(*overrides, tiny=False)
    recipe.resolve(cfg, 2048, cfg.data.image_size)  # what train.build does once the set is loaded
    return cfg


def build(cfg_factory, *overrides):
    cfg = settled(cfg_factory, *overrides)
    return instantiate(cfg.generator), instantiate(cfg.discriminator), cfg


def test_reference_networks_match_003(cfg_factory):
    g, d, _ = build(cfg_factory, "experiment=reference")
    z = torch.randn(2, 128)
    # G: Linear(128 → 8·8·128) → 128×8×8 → ConvT 128, 256, 512 → Conv 5×5 → 3×64×64 in [0, 1].
    assert isinstance(g.project[0], nn.Linear) and g.project[0].out_features == 8 * 8 * 128
    x = g.project(z)
    assert x.shape == (2, 128, 8, 8)
    convts = [m for m in g.blocks if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.out_channels, m.kernel_size, m.stride) for m in convts] == [
        (128, (4, 4), (2, 2)),
        (256, (4, 4), (2, 2)),
        (512, (4, 4), (2, 2)),
    ]
    assert g.blocks(x).shape == (2, 512, 64, 64)
    img = g(z)
    assert img.shape == (2, 3, 64, 64) and img.min() >= 0 and img.max() <= 1
    assert g.out[0].kernel_size == (5, 5)
    # D: 3 × Conv(4×4, s2) with 64, 128, 128 filters, BN, LeakyReLU(0.2); dropout 0.2; Linear → 1.
    convs = [m for m in d.features if isinstance(m, nn.Conv2d)]
    assert [(m.out_channels, m.kernel_size, m.stride) for m in convs] == [
        (64, (4, 4), (2, 2)),
        (128, (4, 4), (2, 2)),
        (128, (4, 4), (2, 2)),
    ]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.features) == 3
    assert all(m.negative_slope == 0.2 for m in d.features if isinstance(m, nn.LeakyReLU))
    assert d.feature_shape == (128, 8, 8)
    assert d.flatten[1].p == pytest.approx(0.2) and d.head.out_features == 1
    assert d(img).shape == (2,)
    # Parameter counts follow from the shapes (checked by hand: see the test's comments above).
    assert n_params(g) == 3_979_651
    assert n_params(d) == 405_441


def test_upsample_generator_matches_003_section_11(cfg_factory):
    g, _, _ = build(cfg_factory, "generator=upsample", "data.image_size=64")
    assert sum(isinstance(m, nn.Upsample) for m in g.blocks) == 3
    convs = [m for m in g.blocks if isinstance(m, nn.Conv2d)]
    assert [m.out_channels for m in convs] == [64, 64, 128, 128, 256, 256]
    assert all(m.kernel_size == (3, 3) for m in convs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g.blocks) == 6
    assert g.blocks(g.project(torch.randn(2, 128))).shape == (2, 256, 64, 64)
    assert g(torch.randn(2, 128)).shape == (2, 3, 64, 64)


def test_mnist_pair_matches_004(cfg_factory):
    g, d, _ = build(cfg_factory, "experiment=mnist")
    img = g(torch.randn(3, 100))
    assert img.shape == (3, 1, 28, 28) and img.min() >= 0 and img.max() <= 1
    convs = [m for m in d.features if isinstance(m, nn.Conv2d)]
    assert [(m.out_channels, m.stride[0], m.padding[0], m.bias) for m in convs] == [
        (16, 2, 1, None),
        (32, 2, 1, None),
        (64, 1, 0, None),
        (128, 1, 0, None),
    ]
    assert d.feature_shape == (128, 1, 1) and d.head.out_features == 2
    assert d(img).shape == (3,)


def test_dcgan_pair(cfg_factory):
    g, d, _ = build(cfg_factory, "experiment=dcgan")
    img = g(torch.randn(2, 100))
    assert img.shape == (2, 3, 64, 64) and img.min() >= -1 and img.max() <= 1 and img.min() < 0
    assert g.value_range == (-1.0, 1.0)
    assert not isinstance(d.features[1], nn.BatchNorm2d)  # no BN on the first layer
    assert d(img).shape == (2,)
    w = [m.weight for m in g.modules() if isinstance(m, nn.ConvTranspose2d)][0]
    assert abs(w.std().item() - 0.02) < 0.002  # N(0, 0.02) init


@pytest.mark.parametrize("size", [32, 64, 128, 256])
@pytest.mark.parametrize("generator", GENERATORS)
def test_every_generator_at_every_size(cfg_factory, generator, size):
    cfg = settled(cfg_factory, f"generator={generator}", f"data.image_size={size}")
    g = instantiate(cfg.generator)  # (its D is not looked at: not built)
    with torch.no_grad():
        assert g.eval()(torch.randn(1, g.latent_dim)).shape == (1, cfg.data.channels, size, size)


@pytest.mark.parametrize("size", [32, 64, 128, 256])
@pytest.mark.parametrize("discriminator", DISCRIMINATORS)
def test_every_discriminator_at_every_size(cfg_factory, discriminator, size):
    cfg = settled(cfg_factory, f"discriminator={discriminator}", f"data.image_size={size}")
    d = instantiate(cfg.discriminator)  # (its G is not looked at: not built)
    with torch.no_grad():
        assert d.eval()(torch.rand(2, cfg.data.channels, size, size)).shape == (2,)


@pytest.mark.parametrize("k", [4, 6, 8])
@pytest.mark.parametrize("generator", ["transposed", "upsample", "small32"])
def test_kernel_size_keeps_resolution(cfg_factory, k, generator):
    g, d, _ = build(
        cfg_factory,
        f"generator={generator}",
        "discriminator=reference",
        f"generator.kernel_size={k}",
        f"discriminator.kernel_size={k}",
        "data.image_size=64",
    )
    with torch.no_grad():
        img = g(torch.randn(2, g.latent_dim))
    assert img.shape == (2, 3, 64, 64)
    assert d.feature_shape[1:] == (8, 8)  # each D block still halves the size
    assert all(m.kernel_size == (k, k) for m in d.features if isinstance(m, nn.Conv2d))


def test_spectral_and_batch_norm_options(cfg_factory):
    _, d, _ = build(
        cfg_factory, "discriminator.spectral_norm=true", "discriminator.batch_norm=false"
    )
    convs = [m for m in d.features if isinstance(m, nn.Conv2d)]
    assert all(hasattr(m, "weight_orig") for m in convs)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    g, _, _ = build(cfg_factory, "generator=transposed", "generator.batch_norm=true")
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g.modules()) == 2  # 2 blocks at 32×32


def test_noise_presets(cfg_factory):
    for name, check in (
        ("normal", lambda z: abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05),
        ("uniform", lambda z: z.min() >= -1 and z.max() <= 1 and abs(z.mean()) < 0.05),
        ("gamma", lambda z: z.min() > 0 and abs(z.mean() - 2) < 0.1),
    ):
        cfg = cfg_factory(f"noise={name}", tiny=False)
        z = instantiate(cfg.noise).sample(1000, 16)
        assert z.shape == (1000, 16) and check(z), name
    cfg = cfg_factory("noise=normal", "noise.mean=-1", "noise.std=0.01", tiny=False)
    z = instantiate(cfg.noise).sample(1000, 8)
    assert abs(z.mean() + 1) < 0.01 and z.std() < 0.02


def test_nearest_upsampling_generator_reaches_28_px(cfg_factory):
    """28 px (MNIST-sized digits) is not 4 × 2ⁿ: the fast G then starts from a 7×7 map with two
    blocks instead of failing."""
    g, d, _ = build(cfg_factory, "data.image_size=28", "data.channels=1")
    z = torch.randn(2, g.latent_dim)
    assert g.project(z).shape[-2:] == (7, 7)
    x = g(z)
    assert x.shape == (2, 1, 28, 28)
    assert d(x).shape == (2,)
