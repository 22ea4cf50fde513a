"""Paths between two latent vectors (003 §16): straight, or along the sphere (slerp)."""

import torch


def slerp(z_a: torch.Tensor, z_b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation: keeps the norm typical of Gaussian samples, which a straight line
    through the low-density middle of the ball does not (White, "Sampling generative networks")."""
    a, b = z_a.reshape(-1), z_b.reshape(-1)
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1, 1))
    t = t[:, None]
    if omega.abs() < 1e-4:  # (nearly) parallel: the straight line is the same path
        return torch.lerp(a, b, t)
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def interpolate(
    z_a: torch.Tensor, z_b: torch.Tensor, n: int, spherical: bool = False
) -> torch.Tensor:
    """(n, latent_dim) from z_a to z_b; the ends are z_a and z_b exactly, not up to rounding."""
    a, b = z_a.reshape(-1), z_b.reshape(-1)
    t = torch.linspace(0, 1, n, dtype=a.dtype, device=a.device)
    path = slerp(a, b, t) if spherical else torch.lerp(a, b, t[:, None])
    path[0], path[-1] = a, b
    return path
