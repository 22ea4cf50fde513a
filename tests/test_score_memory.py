"""The scores take a few images at a time (gan_lab.metrics.images.CHUNK_VALUES) and keep the
training set's bytes where floats are not needed, so scoring a 256-px run no longer holds whole
sets as floats (4.0 GB before; benchmarks/README.md, "128 and 256 px"). The values are those of
the code that held everything at once."""

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torchmetrics.functional.image import structural_similarity_index_measure as tm_ssim

from gan_lab.callbacks.ssim import SSIMTracker
from gan_lab.core.noise import Normal
from gan_lab.metrics import images as metric_images
from gan_lab.metrics import similarity
from gan_lab.metrics.images import generate_asked, real_subset
from gan_lab.metrics.scorer import Scorer
from gan_lab.metrics.similarity import best_ssim, paired_ssim, pairwise_ssim
from gan_lab.metrics.truth import Truth

# Truth.evaluate of the case below, computed by the code before the chunking (commit b067f5d).
BEFORE = {
    "val/fid_rand": 0.13841691406133283,
    "val/fid_rand_floor": 0.09117676028257227,
    "val/kid_rand": 0.24739576351105966,
    "val/kid_rand_floor": 0.09593790688707643,
    "val/kid_rand_std": 0.045792821521496885,
    "val/is_rand": 1.169737999502551,
    "val/is_rand_std": 0.11301862625374563,
    "val/precision_rand": 0.95,
    "val/recall_rand": 0.8,
    "val/density_rand": 0.96,
    "val/coverage_rand": 0.9333333333333333,
    "val/memorisation_rand": 0.825,
    "val/memorisation_rand_floor": 0.5,
}
BEFORE_SSIM = [0.8381079, 0.8689844, 0.8480098, 0.8499300, 0.8697054]  # the gallery's first rows
BEFORE_SSIM_SUM = 28.29729975378723  # all 40 rows
BEFORE_FAKES_SUM = 61662.97337523103
IMAGE = (3, 32, 32)


class Features(torch.nn.Module):
    """A fixed random conv net as the feature space; remembers its largest batch."""

    suffix, feature_dim, num_classes = "_rand", 16, 4

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.conv = torch.nn.Conv2d(3, 16, 5, stride=4)
        self.head = torch.nn.Linear(16, 4)
        self.largest = 0

    @torch.no_grad()
    def forward(self, x):
        self.largest = max(self.largest, len(x))
        f = 10 * self.conv(x.float()).relu().mean((2, 3))
        return f, 10 * self.head(f)


class Mixer(torch.nn.Module):
    """A 'generator': training images blended with a random map of z, in [-1, 1]."""

    latent_dim, num_classes, value_range, image_shape = 8, 0, (-1.0, 1.0), IMAGE

    def __init__(self, images):
        super().__init__()
        torch.manual_seed(2)
        self.images = images.float() / 127.5 - 1
        self.proj = torch.nn.Linear(8, 3 * 32 * 32)
        self.largest = 0

    def forward(self, z):
        self.largest = max(self.largest, len(z))
        idx = (z[:, 0].abs() * 1000).long() % len(self.images)
        return 0.8 * self.images[idx] + 0.2 * torch.tanh(self.proj(z)).view(-1, *IMAGE)


def smooth_images(n: int = 80) -> torch.Tensor:
    coarse = torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    up = F.interpolate(coarse, size=32, mode="bilinear", align_corners=False)
    return (up * 255).round().to(torch.uint8)


@pytest.mark.parametrize("chunk_images", [None, 3], ids=["default", "3 images a time"])
def test_the_scores_of_a_small_case_are_those_before_the_chunking(chunk_images, monkeypatch):
    seen = []  # the images SSIM converted to floats, per call
    if chunk_images:  # every stage in chunks smaller than its input
        monkeypatch.setattr(metric_images, "CHUNK_VALUES", chunk_images * 3 * 32 * 32)
        unit = similarity.as_unit
        monkeypatch.setattr(similarity, "as_unit", lambda x, d: seen.append(len(x)) or unit(x, d))
    images = smooth_images()
    dm = SimpleNamespace(images=images, labels=None, classes=[], names=[], cache_dir=None)
    extractor = Features()
    truth = Truth(Scorer(extractor, batch_size=16), dm, n=30, memorisation_n_train=80)
    generator = Mixer(images)
    fakes, _ = generate_asked(generator, Normal(), 40, 0, 7)
    out = truth.evaluate(fakes)
    assert out.scores == pytest.approx(BEFORE, rel=1e-6, abs=1e-9)
    ssim = [row["ssim"] for row in out.pairs]
    assert ssim[:5] == pytest.approx(BEFORE_SSIM, abs=1e-6)
    assert sum(ssim) == pytest.approx(BEFORE_SSIM_SUM, abs=1e-4)
    assert float(fakes.double().sum()) == pytest.approx(BEFORE_FAKES_SUM, rel=1e-9)
    assert out.matched.dtype == torch.uint8  # the set's bytes, not a float copy of them
    nearest = {row["sample"]: row["train_index"] for row in out.pairs}
    assert torch.equal(out.matched, images[[nearest[i] for i in range(40)]])
    if chunk_images:
        assert generator.largest == 3 and extractor.largest == 16
        assert seen and max(seen) == 3  # paired_ssim: 40 pairs, 3 at a time
    else:
        assert generator.largest == 7  # 32-px images: G keeps batch_size


def test_samples_drawn_in_chunks_keep_a_channels_last_generators_layout(monkeypatch):
    """The extractor sees the samples laid out as before (torch.cat kept G's channels_last): the
    training run's scores stay the same to the bit, not only to float noise."""
    monkeypatch.setattr(metric_images, "CHUNK_VALUES", 3 * 3 * 32 * 32)
    images = smooth_images(20)

    class Last(Mixer):
        def forward(self, z):
            return super().forward(z).contiguous(memory_format=torch.channels_last)

    fakes, _ = generate_asked(Last(images), Normal(), 10, 0, 7)
    plain, _ = generate_asked(Mixer(images), Normal(), 10, 0, 7)
    assert fakes.is_contiguous(memory_format=torch.channels_last) and not fakes.is_contiguous()
    assert plain.is_contiguous() and torch.equal(fakes, plain)


def test_ssim_in_chunks_equals_ssim_at_once_and_takes_the_set_as_bytes():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(7, 3, 24, 24, generator=g)
    b8 = (torch.rand(7, 3, 24, 24, generator=g) * 255).round().to(torch.uint8)
    b = b8.float() / 255.0
    whole = paired_ssim(a, b, chunk=100)
    assert torch.equal(paired_ssim(a, b8, chunk=100), whole)  # bytes in, the same values out
    assert torch.allclose(paired_ssim(a, b8, chunk=2), whole, atol=1e-6)
    expected = tm_ssim(a.double(), b.double(), data_range=1.0, reduction="none")
    assert torch.allclose(paired_ssim(a, b8, torch.float64, chunk=3), expected, atol=1e-9)
    matrix = pairwise_ssim(a[:3], b, chunk=100)
    assert torch.allclose(pairwise_ssim(a[:3], b8, chunk=2), matrix, atol=1e-6)
    assert torch.allclose(matrix.diagonal(), whole[:3], atol=1e-6)


def test_the_ssim_curve_keeps_its_real_images_as_bytes_with_the_same_value():
    images = smooth_images(40)
    fixed = torch.rand(5, 3, 32, 32, generator=torch.Generator().manual_seed(3)) * 2 - 1
    module = SimpleNamespace(
        device=torch.device("cpu"), value_range=(-1.0, 1.0), generate_fixed=lambda n: fixed[:n]
    )
    trainer = SimpleNamespace(datamodule=SimpleNamespace(images=images))
    tracker = SSIMTracker("unused", n_real=16, n_fake=5, seed=0)
    value = tracker.measure(trainer, module)
    assert tracker._reals.dtype == torch.uint8 and len(tracker._reals) == 16
    before = float(best_ssim((fixed + 1) / 2, real_subset(images, 16, 0)).mean())
    assert value == pytest.approx(before, abs=1e-6)
