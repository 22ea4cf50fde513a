"""Move single coordinates of a latent vector and watch the image change (003 §14)."""

import torch

from gan_lab.errors import UserError


def check_coords(coords: list[int], amounts: list[float], dim: int) -> None:
    """Before any work: a bad index should not cost an inversion first."""
    if not coords or not amounts:
        raise UserError(
            "edit needs at least one coordinate (coords=[...]) and one amount (amounts=[...])."
        )
    if not all(isinstance(a, int | float) for a in amounts):
        raise UserError(f"amounts must be numbers, e.g. amounts=[-2,-1,0,1,2]; got {amounts}.")
    bad = [c for c in coords if not isinstance(c, int) or not 0 <= c < dim]
    if bad:
        raise UserError(
            f"coords: {bad} out of range; this generator's latent vectors have {dim} "
            f"coordinates, numbered 0 to {dim - 1}."
        )


def edit_vectors(z: torch.Tensor, coords: list[int], amounts: list[float]) -> torch.Tensor:
    """(len(coords) · len(amounts), latent_dim): row r, column c is z with z[coords[r]] += amounts[c]."""
    dim = z.shape[-1]
    check_coords(coords, amounts, dim)
    base = z.reshape(1, dim)
    rows = []
    for c in coords:
        row = base.repeat(len(amounts), 1)
        row[:, c] += torch.tensor([float(a) for a in amounts], dtype=row.dtype, device=row.device)
        rows.append(row)
    return torch.cat(rows)
