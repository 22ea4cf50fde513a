"""The truncation trick: latent vectors pulled toward the mean latent, z' = z̄ + ψ (z − z̄).

ψ = 1 leaves z as it is (the default everywhere); ψ < 1 asks G only for latents near the centre of
what it trained on, meant to trade variety for typical images (the linear form StyleGAN, Karras
et al. 2019, applies to w; BigGAN's re-sampling variant is not used). Whether it pays depends on
the generator: `gan-lab score psi_curve=[...]` measures it. ψ = 0 is G(z̄) for every z: one image.

z̄ is the noise distribution's mean. Every built-in kind has it in closed form (torch's
distributions: N(m, s) → m, U(a, b) → (a + b)/2, Γ(k, θ) → k·θ); a kind without one gets a seeded
Monte Carlo mean of MEAN_DRAWS vectors. ψ is kept in [0, 1]: for U(a, b) and Γ(k, θ) every z' is
then a convex combination of two points of the support, so G never sees a latent outside what it
trained on (ψ > 1 would push uniform latents past ±1 and gamma latents below 0).
"""

import torch

from gan_lab.errors import UserError

PSI_RANGE = (0.0, 1.0)  # ψ allowed (see above); the schema rules and messages use this
MEAN_DRAWS = 100_000  # vectors averaged where a distribution has no closed-form mean
MEAN_SEED = 0  # ... drawn from this seed, with the global RNG left as it was


def mean_latent(noise, dim: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """z̄ of ``noise`` (a gan_lab.core.noise.Noise) as a (dim,) float tensor on ``device``."""
    try:
        mean = noise.distribution(device).mean
    except NotImplementedError:  # a distribution without a closed-form mean
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(MEAN_SEED)
            return noise.sample(MEAN_DRAWS, dim, device).mean(0)
    return mean.expand(dim).to(device=device, dtype=torch.get_default_dtype()).clone()


def truncate(z: torch.Tensor, noise, psi: float = 1.0) -> torch.Tensor:
    """z' = z̄ + ψ (z − z̄) row-wise; ψ = 1 returns ``z`` itself (bit-identical, no arithmetic)."""
    psi = float(psi)
    if psi == 1.0:
        return z
    low, high = PSI_RANGE
    if not low <= psi <= high:
        raise UserError(
            f"psi={psi}: the truncation ψ is a number in [{low}, {high}] (1 = the generator's own "
            "samples, smaller = latents pulled toward the mean latent: typical images, less "
            "variety; above 1 would ask G for latents outside what it trained on)."
        )
    center = mean_latent(noise, z.shape[-1], z.device).to(z.dtype)
    return torch.lerp(center.expand_as(z), z, psi)  # center + psi·(z − center); psi=0 → center
