"""Every random stream of a run, captured into a checkpoint and restored from it (design §9), so
that k epochs + resume + N−k epochs equal N epochs straight, bit for bit on a CPU.

The streams: torch's CPU generator (z, label noise, augmentation, DiffAugment, dropout, and the
DataLoader's shuffle, which seeds itself from it), CUDA's, numpy's and Python's.
"""

import random

import numpy as np
import torch


def capture() -> dict:
    """Plain tensors, strings and numbers only, so checkpoints keep loading with weights_only."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
        "python": list(random.getstate()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_rank(seed: int, rank: int, epoch: int = 0) -> None:
    """Give each DDP rank its own streams (different z, label noise and augmentation per rank).

    Every rank starts from the same seed (Lightning re-seeds them alike), so without this all
    ranks would draw identical noise and the extra devices would learn nothing new.
    """
    mixed = hash((seed, rank, epoch)) % (2**31)
    torch.manual_seed(mixed)
    np.random.seed(mixed)
    random.seed(mixed)
