"""Everything that watches training: checkpoints policy, sample grids, epoch history."""

from gan_lab.callbacks.balance import ImbalanceWarning
from gan_lab.callbacks.checkpoint import HistoryCheckpoint
from gan_lab.callbacks.history import EpochHistory
from gan_lab.callbacks.samples import SampleGrid

__all__ = ["EpochHistory", "HistoryCheckpoint", "ImbalanceWarning", "SampleGrid"]
