"""Images for the metrics: a fixed subset of real images and seeded generated ones, both in [0, 1]."""

import math

import torch

from gan_lab.core.truncation import truncate
from gan_lab.models import to_unit

# Float values of images held at once where a whole set would be needless (16 MB in float32): at
# 256 px, 21 images. Scores at 256 px took 4 GB with whole sets (benchmarks/README.md, "128 and
# 256 px"); images of 64 px and less still go 100 or more at a time.
CHUNK_VALUES = 1 << 22


def rows_per_chunk(image_shape) -> int:
    """How many images of ``image_shape`` (C×H×W) make ``CHUNK_VALUES`` values (at least one)."""
    return max(1, CHUNK_VALUES // max(1, math.prod(image_shape)))


def permutation(total: int, seed: int) -> torch.Tensor:
    """The seeded order of a set's images whose first n are its real subset (``real_subset``,
    and the real-image pool of gan_lab.metrics.realpool)."""
    return torch.randperm(total, generator=torch.Generator().manual_seed(seed))


def as_unit(images: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Images in [0, 1] as ``dtype``: uint8 ones (0–255, as the training set holds them) divided
    by 255, float ones only cast. Callers convert a chunk at a time, not a whole set."""
    return images.to(dtype) / 255.0 if images.dtype == torch.uint8 else images.to(dtype)


def real_subset(
    images: torch.Tensor, n: int, seed: int = 0, as_bytes: bool = False
) -> torch.Tensor:
    """Up to n training images (uint8) → float [0, 1] (``as_bytes``: kept uint8, a quarter of the
    memory); the same subset for the same seed."""
    picked = images[permutation(len(images), seed)[:n]]
    return picked if as_bytes else as_unit(picked)


def seeded_inputs(
    generator,
    noise,
    n: int,
    seed: int,
    device,
    class_ids: list[int] | None = None,
    psi: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The latent vectors (truncated by ``psi``: gan_lab.core.truncation) and, for a conditional G,
    the classes ``generate_unit`` asks for: random among ``class_ids`` (default: all). The global
    RNG is untouched; the same seed draws the same z and classes at every ψ."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        z = truncate(noise.sample(n, generator.latent_dim, device), noise, psi)
        y = None
        if getattr(generator, "num_classes", 0):
            ids = torch.tensor(class_ids or range(generator.num_classes))
            y = ids[torch.randint(len(ids), (n,))].to(device)
    return z, y


@torch.no_grad()
def generate_asked(
    generator,
    noise,
    n: int,
    seed: int,
    batch_size: int,
    device: torch.device | str = "cpu",
    class_ids: list[int] | None = None,
    psi: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``generate_unit``'s images and the classes a conditional G was asked for (None for an
    unconditional one), from one draw of ``seeded_inputs``: what the scores of every class need.

    G runs on ``batch_size`` images at a time, fewer for large images (``rows_per_chunk`` of its
    ``image_shape``: 21 at 256 px, whose activations at 100 took 0.6 GB), each batch written
    into the one output tensor (no list of batches concatenated: a second copy of the set).
    G is in eval mode, so the images do not depend on the batch (batches of 10, 25 and 100 gave
    the same bits at 256 px on a CPU)."""
    z, y = seeded_inputs(generator, noise, n, seed, device, class_ids, psi)
    shape = getattr(generator, "image_shape", None)
    step = batch_size if shape is None else min(batch_size, rows_per_chunk(shape))
    was_training = generator.training
    generator.eval()
    out = None
    for start in range(0, n, step):
        zs = z[start : start + step]
        # an unconditional G takes z alone
        x = generator(zs) if y is None else generator(zs, y[start : start + step])
        x = to_unit(x.float(), generator.value_range)
        if out is None:
            # in G's memory format, as torch.cat kept it: the extractor then computes as before
            # (a channels_last G's samples laid out otherwise gave other float noise)
            fmt = _format(x)
            out = torch.empty((n, *x.shape[1:]), dtype=x.dtype, device=x.device, memory_format=fmt)
        out[start : start + len(x)] = x
    generator.train(was_training)
    return (out if out is not None else torch.empty(0)), y


def _format(images: torch.Tensor) -> torch.memory_format:
    """channels_last for a batch laid out so (a G after the fast path's channels_last), else
    contiguous."""
    last = images.dim() == 4 and images.is_contiguous(memory_format=torch.channels_last)
    return torch.channels_last if last and not images.is_contiguous() else torch.contiguous_format


def generate_unit(
    generator,
    noise,
    n: int,
    seed: int,
    batch_size: int,
    device: torch.device | str = "cpu",
    class_ids: list[int] | None = None,
    psi: float = 1.0,
) -> torch.Tensor:
    """n images in [0, 1] from seeded noise, whatever G's output range; the global RNG is untouched.

    A conditional G is asked for seeded random classes (``seeded_inputs``); ``psi`` < 1 truncates z.
    """
    return generate_asked(generator, noise, n, seed, batch_size, device, class_ids, psi)[0]
