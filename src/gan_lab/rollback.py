"""Going back to the last stable moment (003 §9.2): reload the newest good checkpoint into the
running module and optimisers, and lower the learning rates so the same failure is less likely.

Used by the run guard (NaN/Inf) and by the imbalance watch (D wins, collapse). The epoch count
goes on: a roll-back replaces the weights, optimiser states and EMA, not the history.
"""

from pathlib import Path

import torch

from gan_lab.errors import load_torch_file


def history(dirpath: str | Path) -> list[tuple[int, Path]]:
    """(epoch, path) of the run's history checkpoints, oldest first."""
    found = []
    for path in Path(dirpath).glob("epoch_*.ckpt"):
        digits = path.stem.removeprefix("epoch_")
        if digits.isdigit():
            found.append((int(digits), path))
    return sorted(found)


def last_good(dirpath: str | Path, before_epoch: int | None = None) -> Path | None:
    """The newest history checkpoint (strictly before ``before_epoch`` when given)."""
    usable = [p for e, p in history(dirpath) if before_epoch is None or e < before_epoch]
    return usable[-1] if usable else None


def all_finite(state: dict) -> bool:
    return all(
        torch.isfinite(v).all()
        for v in state.values()
        if isinstance(v, torch.Tensor) and v.is_floating_point()
    )


def roll_back(trainer, module, path: Path, lr_factor: float, reason: str) -> str:
    """Load ``path`` into the running module and optimisers, multiply every lr by ``lr_factor``;
    returns the one-line account for the caller to log."""
    ckpt = load_torch_file(path, "checkpoint")
    module.load_state_dict(ckpt["state_dict"])
    lrs = []
    for opt, state in zip(trainer.optimizers, ckpt["optimizer_states"], strict=True):
        opt.load_state_dict(state)
        for group in opt.param_groups:
            group["lr"] *= lr_factor
            lrs.append(group["lr"])
    return (
        f"{reason} Rolled back to {path.name} (epoch {ckpt.get('epoch', -1) + 1}): weights, "
        f"optimiser states and EMA; learning rates ×{lr_factor:g}, now D {lrs[0]:.3g}, "
        f"G {lrs[-1]:.3g}."
    ).strip()
