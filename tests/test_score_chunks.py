"""The scoring stages that tests/test_score_memory.py does not watch keep their chunks: the real
pool encodes whole extractor batches at a time, and the SSIM curve converts its real images to
floats ``rows_per_chunk`` at a time. Each test fails if its stage goes back to the whole set at
once (the 256-px peak, benchmarks/README.md "Memory at the end of a 256-px run"), with the same
values either way."""

from types import SimpleNamespace

import torch

from gan_lab.callbacks.ssim import SSIMTracker
from gan_lab.metrics import images as metric_images
from gan_lab.metrics import similarity
from gan_lab.metrics.images import real_subset
from gan_lab.metrics.realpool import real_pool
from gan_lab.metrics.similarity import best_ssim

IMAGE = (3, 16, 16)


class Spy:
    """A scorer (duck-typed, as real_pool takes one): a pixel mean as the feature, and the number
    of float images each call was handed."""

    def __init__(self, batch_size: int):
        self.batch_size, self.device, self.handed = batch_size, torch.device("cpu"), []

    def features(self, images, what):
        self.handed.append(len(images))
        f = images.flatten(1).mean(1, keepdim=True).double()
        return f, f


def test_the_real_pool_encodes_whole_extractor_batches_not_the_whole_set(monkeypatch):
    monkeypatch.setattr(metric_images, "CHUNK_VALUES", 10 * 3 * 16 * 16)  # 10 images a chunk
    images = torch.randint(0, 256, (60, *IMAGE), generator=torch.Generator().manual_seed(0))
    images = images.to(torch.uint8)
    spy = Spy(batch_size=4)
    pool = real_pool(spy, images, 20, 50, 0, "key", None)
    assert len(pool.index) == 50 and sum(spy.handed) == 50
    assert max(spy.handed) == 8  # two batches of 4: the most whole batches in 10 images
    whole = (images[pool.index].float() / 255.0).flatten(1).mean(1, keepdim=True).double()
    assert torch.equal(pool.feats, whole)


def test_the_ssim_curve_converts_its_real_images_a_chunk_at_a_time(monkeypatch):
    g = torch.Generator().manual_seed(0)
    images = (torch.rand(40, *IMAGE, generator=g) * 255).round().to(torch.uint8)
    fixed = torch.rand(4, *IMAGE, generator=g) * 2 - 1
    module = SimpleNamespace(
        device=torch.device("cpu"), value_range=(-1.0, 1.0), generate_fixed=lambda n: fixed[:n]
    )
    trainer = SimpleNamespace(datamodule=SimpleNamespace(images=images))
    whole = float(best_ssim((fixed + 1) / 2, real_subset(images, 16, 0)).mean())
    monkeypatch.setattr(metric_images, "CHUNK_VALUES", 3 * 3 * 16 * 16)  # 3 images a chunk
    converted = []  # the real images (uint8) each conversion to floats was handed
    unit = similarity.as_unit
    monkeypatch.setattr(
        similarity,
        "as_unit",
        lambda x, dtype: (x.dtype == torch.uint8 and converted.append(len(x))) or unit(x, dtype),
    )
    value = SSIMTracker("unused", n_real=16, n_fake=4, seed=0).measure(trainer, module)
    assert sum(converted) == 16 and max(converted) == 3
    assert abs(value - whole) < 1e-6
