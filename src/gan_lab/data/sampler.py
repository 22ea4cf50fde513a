"""The shuffle order of an epoch as a function of (seed, epoch) alone.

A DataLoader's own shuffle draws its seed from torch's global random stream when its iterator is
created, which a resumed run does at another moment than an uninterrupted one; then the two runs
see their images in different orders. Lightning calls ``set_epoch`` before every epoch (as for
DistributedSampler, which replaces this sampler under DDP and follows the same rule).
"""

import torch
from torch.utils.data import Sampler


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
