"""Everything that watches training: checkpoints policy, the NaN/Inf guard, sample grids, epoch history, metrics, SSIM, the HParams table, the report."""

from gan_lab.callbacks.balance import ImbalanceWarning
from gan_lab.callbacks.checkpoint import HistoryCheckpoint
from gan_lab.callbacks.guard import RunGuard
from gan_lab.callbacks.history import EpochHistory
from gan_lab.callbacks.hparams import HParams
from gan_lab.callbacks.metrics import ImageMetrics
from gan_lab.callbacks.report import RunReport
from gan_lab.callbacks.samples import SampleGrid
from gan_lab.callbacks.ssim import SSIMTracker

__all__ = [
    "EpochHistory",
    "HParams",
    "HistoryCheckpoint",
    "ImageMetrics",
    "ImbalanceWarning",
    "RunGuard",
    "RunReport",
    "SSIMTracker",
    "SampleGrid",
]
