"""The callbacks group's keys (conf/callbacks/): sample grids, the imbalance watch, FID/KID/IS
(the metrics group's rules), SSIM, the history, the run guard, checkpoints and the run's report."""

from gan_lab.config.schema.commands import PSI
from gan_lab.config.schema.metrics import METRICS, METRICS_CALLBACK_KEYS
from gan_lab.config.schema.rules import MAX_GRID, choice, flag, number, path, target, whole
from gan_lab.runs import layout

# The imbalance watch's actions (callbacks/balance.py).
BALANCE_ACTIONS = ("warn", "stop", "rollback")
_DIR = "the run folder (what this callback writes there is named by gan_lab.runs.layout)"

CALLBACKS = {
    "callbacks.samples._target_": target("gan_lab.callbacks.SampleGrid"),
    "callbacks.samples.dirpath": path(_DIR, null=False),
    "callbacks.samples.every_n_epochs": whole("a grid every N epochs", low=1),
    "callbacks.samples.every_n_steps": whole(
        f"also a grid every N training iterations ({layout.step_grid_path('<run>', 100)}); 0 = off"
    ),
    "callbacks.samples.nrow": whole("images per grid row", low=1, high=MAX_GRID),
    "callbacks.samples.gif": flag(f"{layout.gif_path('<run>')} at the end"),
    "callbacks.samples.psi": PSI,
    "callbacks.balance._target_": target("gan_lab.callbacks.ImbalanceWarning"),
    "callbacks.balance.patience": whole(
        "epochs in a row that D must win before the warning", low=1
    ),
    "callbacks.balance.d_real_above": number("D wins: mean D(x) above this"),
    "callbacks.balance.d_fake_below": number("... and mean D(G(z)) below this"),
    "callbacks.balance.collapse_ratio": number("collapse: samples spread < this × the reals'", 0),
    "callbacks.balance.collapse_after": whole("... only after this many epochs"),
    "callbacks.balance.action": choice("what the watch does", BALANCE_ACTIONS),
    "callbacks.balance.dirpath": path(_DIR, null=False),
    "callbacks.balance.lr_factor": number(
        "rollback: both learning rates × this", 0, 1, low_open=True
    ),
    "callbacks.metrics._target_": target("gan_lab.callbacks.ImageMetrics"),
    # The callback's settings are ${metrics.*}: the same rules, never a second copy of them.
    **{f"callbacks.metrics.{k}": METRICS[f"metrics.{k}"] for k in METRICS_CALLBACK_KEYS},
    "callbacks.metrics.dirpath": path(_DIR, null=False),
    "callbacks.ssim._target_": target("gan_lab.callbacks.SSIMTracker"),
    "callbacks.ssim.dirpath": path(_DIR, null=False),
    "callbacks.ssim.every_n_steps": whole("SSIM every M batches; 0 = off"),
    "callbacks.ssim.n_real": whole(
        "training images each sample is compared with", low=1, high=MAX_GRID
    ),
    "callbacks.ssim.n_fake": whole("fixed-noise samples averaged", low=1, high=MAX_GRID),
    "callbacks.ssim.seed": whole("which real images"),
    "callbacks.history._target_": target("gan_lab.callbacks.EpochHistory"),
    "callbacks.history.dirpath": path(_DIR, null=False),
    "callbacks.history.plot": flag(f"{layout.LOSSES_PNG} when the run ends"),
    "callbacks.hparams._target_": target("gan_lab.callbacks.HParams"),
    "callbacks.guard._target_": target("gan_lab.callbacks.RunGuard"),
    "callbacks.guard.dirpath": path(_DIR, null=False),
    "callbacks.guard.lr_factor": number(
        "a roll-back multiplies both learning rates by this", 0, 1, low_open=True
    ),
    "callbacks.guard.max_rollbacks": whole("roll-backs before the run stops"),
    "callbacks.guard.max_skipped_steps": whole("NaN/Inf steps in a row that stop the run", low=1),
    "callbacks.checkpoint._target_": target("gan_lab.callbacks.HistoryCheckpoint"),
    "callbacks.checkpoint.dirpath": path(_DIR, null=False),
    "callbacks.checkpoint.every_n_epochs": whole(
        "a checkpoint every N epochs (and the last)", low=1
    ),
    "callbacks.checkpoint.save_last": flag(f"{layout.LAST} after every epoch, for resume"),
    "callbacks.report._target_": target("gan_lab.callbacks.RunReport"),
    "callbacks.report.dirpath": path(_DIR, null=False),
    "callbacks.report.preview_images": whole(
        "training images in preview/batch.png", low=1, high=MAX_GRID
    ),
    "callbacks.report.augment_images": whole("rows of preview/augment.png", low=1, high=MAX_GRID),
    "callbacks.report.augment_copies": whole(
        "augmented copies beside each image", low=1, high=MAX_GRID
    ),
    "callbacks.report.seed": whole("which images the previews show"),
}
