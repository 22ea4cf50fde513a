"""How an epoch draws its batches: the shuffle order as a function of (seed, epoch) alone, and the
in-memory set fetched a batch at a time.

A DataLoader's own shuffle draws its seed from torch's global random stream when its iterator is
created, which a resumed run does at another moment than an uninterrupted one; then the two runs
see their images in different orders. Lightning calls ``set_epoch`` before every epoch (as for
DistributedSampler, which replaces this sampler under DDP and follows the same rule).
"""

import torch
from torch.utils.data import Sampler, TensorDataset


class EpochShuffle(Sampler[int]):
    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())


class InMemory(TensorDataset):
    """The in-memory set, fetched a batch at a time: the DataLoader hands ``__getitems__`` the
    batch's indices (in the sampler's order) and gets the images and labels by one gather each,
    instead of a tuple per image stacked again by the default collate — the same batch, 0.087
    against 0.125 ms a fetch at batch 16 before index_select (benchmarks/README.md, "Every
    millisecond of the step")."""

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, ...]:
        index = torch.as_tensor(indices, dtype=torch.long)
        return tuple(t.index_select(0, index) for t in self.tensors)  # ~3× faster than t[index]

    @staticmethod
    def collate(batch: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
        return list(batch)  # already one tensor per field (a list, as the default collate gives)
