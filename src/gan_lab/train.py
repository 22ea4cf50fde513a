"""train(cfg): build everything from the composed config and fit. ``train.py`` is its thin CLI."""

import fcntl
import logging
import os
import shutil
import socket
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from gan_lab import registry, rollback, run_files
from gan_lab.checkpoint import STORED_KEYS, read_checkpoint, resolve_checkpoint
from gan_lab.config import to_dict
from gan_lab.distributed import check_trainer
from gan_lab.errors import UserError
from gan_lab.hardware import auto_precision
from gan_lab.models import output_range
from gan_lab.module import GAN
from gan_lab.safe_io import TMP_GLOB, AtomicCheckpointIO
from gan_lab.validate import check_config

log = logging.getLogger(__name__)

# What defines the networks and the data (checkpoint.STORED_KEYS) is taken from the checkpoint
# when resuming, except these, which a resume may change: where the data are and how they are read.
RESUMABLE = ("data.root", "data.audit", "data.cache", "data.memory_budget")

# Lightning's advice for large, file-backed sets; ours are in memory.
warnings.filterwarnings("ignore", message=".*does not have many workers.*")
warnings.filterwarnings("ignore", message=".*`training_step` returns.*")
warnings.filterwarnings(
    "ignore", message=".*isinstance.treespec, LeafSpec.*"
)  # Lightning vs. newer torch


def command_line_overrides() -> list[str]:
    """The key=value arguments of this run (inside a Hydra run; [] when called as a function)."""
    from hydra.core.hydra_config import HydraConfig

    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def use_stored_config(cfg: DictConfig, overrides: list[str], stored: dict) -> DictConfig:
    """Resume = continue the same experiment: networks, data and procedure come from the checkpoint.

    Only the keys that cannot change the networks or the procedure may be given again (e.g. a
    data folder that moved: data.root=); any other stored key on the command line is refused,
    never silently ignored. ``stored`` is the config kept in the checkpoint.
    """
    given = {o.split("=", 1)[0].lstrip("+~"): o for o in overrides if "=" in o}
    changed = {k: v for k, v in given.items() if k.split(".")[0] in STORED_KEYS or k in STORED_KEYS}
    refused = [v for k, v in changed.items() if not k.startswith(RESUMABLE)]
    if refused:
        raise UserError(
            f"resuming from {cfg.ckpt_path} continues its experiment, so {refused} cannot change "
            f"now (the checkpoint's data, networks and procedure are kept); only "
            f"{', '.join(RESUMABLE)} can. To change the experiment, start a new run, or "
            "fine-tune by passing the checkpoint's weights to a new run."
        )
    with open_dict(cfg):
        kept = {key: OmegaConf.select(cfg, key) for key in changed}
        for key in STORED_KEYS:
            if key in stored:
                cfg[key] = OmegaConf.create(stored[key])
        for key, value in kept.items():
            OmegaConf.update(cfg, key, value, force_add=True)
    log.info("resuming from %s with its stored data, network and model config", cfg.ckpt_path)
    return cfg


def prepare_run_folder(run_dir: Path, epoch: int, ckpt_path: Path | None) -> None:
    """Make the run folder hold one history that ends where training starts (design §9):
    at the checkpoint's epoch, or at 0 for a new run in a folder that already has files.

    Rows written after the checkpoint (a kill between the CSVs and the checkpoint) are dropped.
    Resuming from an earlier history checkpoint starts a new branch: the abandoned branch's later
    checkpoints, grids, scores and full CSVs are moved to abandoned/<time>/, never mixed, never lost.
    """
    for leftover in run_dir.rglob(TMP_GLOB):  # writes a kill interrupted before their rename
        leftover.unlink()
    later = [(e, p) for e, p in rollback.history(run_dir / "checkpoints") if e > epoch]
    started = any((run_dir / n).exists() for n in run_files.HISTORY)
    if later or (epoch == 0 and started):
        dest = run_dir / "abandoned" / time.strftime("%Y-%m-%d_%H-%M-%S")
        moved = [p for _, p in later]
        last = run_dir / "checkpoints" / "last.ckpt"
        if last.exists() and (ckpt_path is None or last.resolve() != ckpt_path.resolve()):
            moved.append(last)
        moved += [p for p in (run_dir / "samples").glob("epoch_*.png") if _number(p) > epoch]
        moved += [run_dir / n for n in ("scores.csv", "scores.md", "samples/evolution.gif")]
        for path in moved:
            if path.exists():
                target = dest / path.relative_to(run_dir)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(path), target)
        dest.mkdir(parents=True, exist_ok=True)
        for name in run_files.HISTORY:
            if (run_dir / name).exists():
                shutil.copy2(run_dir / name, dest / name)
        log.warning(
            "starting at epoch %d in %s, which holds a run that went on: its later files are "
            "kept in %s; this run's history continues from epoch %d",
            epoch,
            run_dir,
            dest,
            epoch,
        )
    for name in run_files.HISTORY:
        run_files.truncate_after(run_dir / name, epoch)


def epochs_done_in(ckpt: dict) -> int:
    """The epochs a checkpoint has completed: where training from it starts."""
    return int(ckpt.get("epoch", -1)) + 1


def newest(ckpt_path: Path) -> tuple[Path, dict]:
    """The checkpoint to resume from, read once. last.ckpt means "the newest state": a kill
    between writing epoch_N.ckpt and last.ckpt leaves last.ckpt one epoch behind, and then
    epoch_N.ckpt is where to go on from."""
    ckpt = read_checkpoint(ckpt_path)
    history = rollback.history(ckpt_path.parent)
    if ckpt_path.name != "last.ckpt" or not history:
        return ckpt_path, ckpt
    epoch = epochs_done_in(ckpt)
    if history[-1][0] > epoch:
        log.warning(
            "%s is at epoch %d; resuming from the newer %s", ckpt_path, epoch, history[-1][1]
        )
        return history[-1][1], read_checkpoint(history[-1][1])
    return ckpt_path, ckpt


def _number(path: Path) -> int:
    digits = path.stem.removeprefix("epoch_")
    return int(digits) if digits.isdigit() else -1


@contextmanager
def run_lock(run_dir: Path):
    """One process per run folder: a second one (a resume started twice) would interleave writes.
    An OS lock, released by the kernel when the process dies, so a killed run never blocks."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / ".lock", "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            owner = f.read().strip() or "another process"
            raise UserError(
                f"the run folder {run_dir} is in use by {owner}; wait for it to finish (or stop "
                "it) before resuming, or resume a copy of the folder."
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"process {os.getpid()} on {socket.gethostname()}")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def build(cfg: DictConfig) -> tuple[GAN, L.LightningDataModule]:
    """The networks, noise and data, by name from gan-lab's registry: the same code path as a
    checkpoint's tools (never Hydra's instantiate of a config node: design §9)."""
    value_range = output_range(cfg.generator.out_activation)
    datamodule = registry.build("data", cfg.data, value_range=value_range)
    datamodule.load()  # fail early, with a clear message, if the data are missing
    with open_dict(cfg):  # data.channels=auto, resolved by the data (the networks follow it)
        cfg.data.channels = datamodule.channels
    class_ids = None
    if cfg.model.get("conditional"):
        # The number of classes comes from the data (subfolders, digits, shapes), never typed twice.
        class_ids = sorted(set(datamodule.labels.tolist()))
        with open_dict(cfg):
            cfg.generator.num_classes = cfg.discriminator.num_classes = len(datamodule.classes)
            cfg.discriminator.class_head = bool(cfg.model.get("class_loss", 0) > 0)
    generator = registry.build("generator", cfg.generator)
    discriminator = registry.build("discriminator", cfg.discriminator)
    noise = registry.build("noise", cfg.noise)
    run_config = {**to_dict(cfg), "classes": list(datamodule.classes)}
    module = GAN(
        generator,
        discriminator,
        noise,
        class_ids=class_ids,
        run_config=run_config,
        fast_path_mode=str(cfg.trainer.get("fast_path", "auto")),
        **to_dict(cfg.model),
    )
    return module, datamodule


def make_trainer(cfg: DictConfig, **overrides) -> L.Trainer:
    trainer_cfg = to_dict(cfg.trainer)
    trainer_cfg.pop("fast_path", None)  # gan-lab's, not Lightning's: the module reads it (build)
    check_trainer(trainer_cfg)
    if trainer_cfg.get("precision") == "auto":
        trainer_cfg["precision"] = auto_precision(str(trainer_cfg.get("accelerator", "auto")))
    # A node without _target_ is a preset's setting for a callback that callbacks=none removed.
    callbacks = [
        instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c and "_target_" in c
    ]
    callbacks += overrides.pop("callbacks", [])
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c]
    trainer_cfg.update(overrides)
    # Crash-safe checkpoint files (written beside their name, fsynced, renamed: design §9).
    plugins = [AtomicCheckpointIO()]
    return instantiate(trainer_cfg, callbacks=callbacks, logger=loggers or False, plugins=plugins)


def train(
    cfg: DictConfig, callbacks: list[L.Callback] = (), overrides: list[str] | None = None
) -> dict[str, float]:
    """Train one GAN; returns the final callback metrics (epoch means) as floats.

    ``callbacks`` are added to those of the config (tests use it to watch a run); ``overrides``
    are the command line's key=value arguments (taken from Hydra when None).
    """
    ckpt_path, start = None, 0
    if cfg.get("ckpt_path"):
        ckpt_path, ckpt = newest(resolve_checkpoint(cfg.ckpt_path))  # best@<run> too
        with open_dict(cfg):
            cfg.ckpt_path = str(ckpt_path)
        overrides = command_line_overrides() if overrides is None else overrides
        cfg = use_stored_config(cfg, overrides, ckpt["gan_lab"]["config"])
        start = epochs_done_in(ckpt)
        del ckpt  # Lightning reads the file again to restore it; no second copy during training
    check_config(cfg)
    run_dir = Path(cfg.paths.output_dir)
    with run_lock(run_dir):
        prepare_run_folder(run_dir, start, ckpt_path)
        if cfg.get("seed") is not None:
            L.seed_everything(cfg.seed, workers=True, verbose=False)
        module, datamodule = build(cfg)
        trainer = make_trainer(cfg, callbacks=list(callbacks))
        log.info("precision %s, %d training images", trainer.precision, len(datamodule.images))
        try:
            trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
        except KeyError as err:
            if ckpt_path is not None:
                raise UserError(f"cannot resume from {ckpt_path}: it lacks {err}.") from None
            raise
    return {k: float(v) for k, v in trainer.callback_metrics.items() if isinstance(v, torch.Tensor)}
