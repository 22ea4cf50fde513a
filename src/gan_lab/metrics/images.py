"""Images for the metrics: a fixed subset of real images and seeded generated ones, both in [0, 1]."""

import torch

from gan_lab.core.truncation import truncate
from gan_lab.models import to_unit


def permutation(total: int, seed: int) -> torch.Tensor:
    """The seeded order of a set's images whose first n are its real subset (``real_subset``,
    and the real-image pool of gan_lab.metrics.realpool)."""
    return torch.randperm(total, generator=torch.Generator().manual_seed(seed))


def real_subset(images: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """Up to n training images (uint8) → float [0, 1]; the same subset for the same seed."""
    return images[permutation(len(images), seed)[:n]].float() / 255.0


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
    unconditional one), from one draw of ``seeded_inputs``: what the scores of every class need."""
    z, y = seeded_inputs(generator, noise, n, seed, device, class_ids, psi)
    was_training = generator.training
    generator.eval()
    out = [
        to_unit(
            (
                generator(z[start : start + batch_size])
                if y is None  # an unconditional G takes z alone
                else generator(z[start : start + batch_size], y[start : start + batch_size])
            ).float(),
            generator.value_range,
        )
        for start in range(0, n, batch_size)
    ]
    generator.train(was_training)
    return torch.cat(out), y


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
