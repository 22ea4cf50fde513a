"""train(cfg): build everything from the composed config and fit. ``train.py`` is its thin CLI."""

import copy
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.fabric.plugins import TorchCheckpointIO
from omegaconf import DictConfig, OmegaConf, open_dict

from gan_lab.config import compose_again, registry, to_dict
from gan_lab.config.durations import lightning_time, max_time_seconds
from gan_lab.config.resume import use_stored_config
from gan_lab.config.schema.rules import is_number
from gan_lab.config.validate import check_config
from gan_lab.data import fingerprint
from gan_lab.errors import UserError, load_torch_file
from gan_lab.hardware import auto_precision, check_accelerator, skip_absent_nvml
from gan_lab.models import output_range
from gan_lab.runs import files, layout, rollback
from gan_lab.runs.lock import run_lock
from gan_lab.runs.safe_io import TMP_GLOB, save_atomic
from gan_lab.training import finetune, recipe
from gan_lab.training.checkpoint import epochs_done_in, newest, resolve_checkpoint
from gan_lab.training.distributed import check_trainer
from gan_lab.training.loggers import build_loggers
from gan_lab.training.module import GAN
from gan_lab.training.schedule import StepLimit
from gan_lab.training.warmup import WARMUP_KEYS, run_warmup

log = logging.getLogger(__name__)

# Lightning's advice for large, file-backed sets; ours are in memory.
warnings.filterwarnings("ignore", message=".*does not have many workers.*")
warnings.filterwarnings("ignore", message=".*`training_step` returns.*")
warnings.filterwarnings(
    "ignore", message=".*isinstance.treespec, LeafSpec.*"
)  # Lightning vs. newer torch
# A tiny set has fewer batches than the loss curve's interval: the epoch means are logged anyway.
warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")


class _Said(logging.Filter):
    """Lightning's start-up lines that the run's own paragraph says (precision, the device) or
    that say nothing to a gan-lab user (an advertisement, the default of limit_train_batches)."""

    DROP = (
        "💡 Tip",
        "litlogger",
        "GPU available:",
        "TPU available:",
        "HPU available:",
        "Automatic Mixed Precision",
        "was configured so 100%",
    )

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(d in record.getMessage() for d in self.DROP)


logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_Said())


def prepare_run_folder(run_dir: Path, epoch: int, ckpt_path: Path | None) -> None:
    """Make the run folder hold one history that ends where training starts (design §9):
    at the checkpoint's epoch, or at 0 for a new run in a folder that already has files.

    Rows written after the checkpoint (a kill between the CSVs and the checkpoint) are dropped.
    Resuming from an earlier history checkpoint starts a new branch: the abandoned branch's later
    checkpoints, grids, scores and full CSVs are moved to abandoned/<time>/, never mixed, never lost
    (rollback.set_aside, in an order a kill cannot break).
    """
    for leftover in run_dir.rglob(TMP_GLOB):  # writes a kill interrupted before their rename
        leftover.unlink()
    later = [e for e, _ in layout.history(run_dir) if e > epoch]
    started = any((run_dir / n).exists() for n in layout.HISTORY)
    if later or (epoch == 0 and started) or (run_dir / layout.MOVING_MARK).exists():
        stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
        dest = rollback.set_aside(run_dir, epoch, stamp, keep=ckpt_path)
        log.warning(
            "starting at epoch %d in %s, which holds a run that went on: its later files are "
            "kept in %s; this run's history continues from epoch %d",
            epoch,
            run_dir,
            dest,
            epoch,
        )
    for name in layout.HISTORY:
        files.truncate_after(run_dir / name, epoch)


@dataclass
class Start:
    """Where a run starts: from nothing, or from a checkpoint and what it stored."""

    ckpt_path: Path | None = None
    epoch: int = 0  # epochs completed: where training goes on from
    fast_path: dict | None = None  # the kernels the run used before it stopped
    data: dict | None = None  # the training set's fingerprint (gan_lab.data.fingerprint)
    shapes: dict | None = None  # the stored weights' shapes: the networks built must match
    init: finetune.Source | None = None  # init=: a new run from another run's networks


def resume_point(cfg: DictConfig, overrides: list[str] | None) -> Start:
    """Stage 1 of the config's one pass: the checkpoint to go on from (if any) and its stored
    config applied (gan_lab.config.resume)."""
    found = newest(resolve_checkpoint(cfg.ckpt_path)) if cfg.get("ckpt_path") else None
    if cfg.get("ckpt_path") and found is None:
        log.warning("%r does not exist yet: this is the run's first start", cfg.ckpt_path)
        with open_dict(cfg):
            cfg.ckpt_path = None
    if found is None:
        return Start()
    ckpt_path, ckpt = found  # best@<run> too
    with open_dict(cfg):
        cfg.ckpt_path = str(ckpt_path)
    baseline = None
    if overrides is not None:  # what ckpt_path= alone composes: the rest is what was typed
        alone = [o for o in overrides if o.lstrip("+~").startswith(("ckpt_path=", "hydra."))]
        baseline = compose_again("train", alone)
    use_stored_config(cfg, overrides, ckpt["gan_lab"]["config"], baseline)
    return Start(
        ckpt_path=ckpt_path,
        epoch=epochs_done_in(ckpt),
        fast_path=ckpt["gan_lab"].get("fast_path"),
        data=fingerprint.read(ckpt["gan_lab"].get("data"), ckpt_path),
        shapes={k: tuple(v.shape) for k, v in ckpt["state_dict"].items() if hasattr(v, "shape")},
    )  # the checkpoint itself is let go: Lightning reads the file again to restore it


def _seed(cfg: DictConfig) -> None:
    seed = cfg.get("seed")
    if seed is None:
        return
    try:
        L.seed_everything(seed, workers=True, verbose=False)
    except (TypeError, ValueError) as err:  # before the one check: Lightning's own words
        raise UserError(f"seed={seed} is not valid: {err} (null = a random seed).") from None


def load_data(cfg: DictConfig) -> tuple[L.LightningDataModule, dict]:
    """Stage 2 and 3 of the config's one pass: the data module, loaded, and every ``auto`` filled
    in — data.channels by the data, the keys recipe=auto chooses (gan_lab/training/recipe.py;
    returned as run.json records them: key → value, why), a conditional run's class counts.
    Fails early, with a clear message, if the data are missing."""
    value_range = output_range(cfg.generator.out_activation)
    data_cfg, chosen = recipe.data_to_build(cfg)
    datamodule = registry.build("data", data_cfg, value_range=value_range)
    datamodule.load()
    with open_dict(cfg):  # data.channels=auto, resolved by the data (the networks follow it)
        cfg.data.channels = datamodule.channels
    chosen |= recipe.resolve(cfg, len(datamodule.images), int(cfg.data.image_size))
    if left := recipe.left_at_auto(cfg):
        raise UserError(
            f"{', '.join(left)} cannot be chosen automatically here (recipe=auto has no rule for "
            "it with this preset); set a value, e.g. the one in conf/ of the preset you use."
        )
    if chosen:
        log.info(recipe.describe(chosen, cfg, len(datamodule.images)))
    with open_dict(cfg):
        if cfg.model.get("conditional"):
            # The number of classes comes from the data (subfolders, digits, shapes), never typed
            # twice.
            cfg.generator.num_classes = cfg.discriminator.num_classes = len(datamodule.classes)
            cfg.discriminator.class_head = bool(cfg.model.get("class_loss", 0) > 0)
        # A resumed run keeps the first session's record of what recipe=auto chose.
        cfg.chosen = {**(to_dict(cfg).get("chosen") or {}), **recipe.record(chosen)}
    datamodule.batch_size = int(cfg.data.batch_size)
    return datamodule, recipe.record(chosen)


def settle(
    cfg: DictConfig, overrides: list[str] | None = None
) -> tuple[DictConfig, Start, L.LightningDataModule]:
    """The config's one pass: the stored config applied (a resume) → the seed → the data loaded
    and every ``auto`` resolved → checked once against the schema (every rule, cross-key ones
    too) → frozen. Nothing edits ``cfg`` after this; the build reads a finished config."""
    skip_absent_nvml()  # before recipe=auto's budget rule times Adam steps (gan_lab/hardware.py)
    start = resume_point(cfg, overrides)
    start.init = _init(cfg, start, overrides)
    _seed(cfg)
    datamodule, _ = load_data(cfg)
    if start.init is not None:  # the data fit the source's networks, or one paragraph
        finetune.check_fits(cfg, start.init, len(datamodule.images), len(datamodule.classes))
    check_config(cfg)
    OmegaConf.set_readonly(cfg, True)
    return cfg, start, datamodule


def _init(cfg: DictConfig, start: Start, overrides: list[str] | None) -> finetune.Source | None:
    """init= on a new run: the source read and its networks' settings taken (before the data
    load, which follows their size); on a resume, nothing (the checkpoint holds the weights)."""
    typed = {k: cfg.model.get(k) for k in ("freeze_d", "freeze_g")}
    frozen = {k: v for k, v in typed.items() if v and v != "auto"}  # auto: 0 without init=
    if not cfg.get("init") and frozen:
        log.warning(
            "%s without init=: the frozen blocks keep their RANDOM initial weights for the whole "
            "run (FreezeD keeps a trained source's features; add init=<run> to fine-tune one)",
            " ".join(f"model.{k}={v}" for k, v in frozen.items()),
        )
    anchor = cfg.model.get("anchor_g")  # a number here; the schema checks anything else later
    if not cfg.get("init") and start.ckpt_path is None and is_number(anchor) and anchor > 0:
        raise UserError(
            f"model.anchor_g={anchor} needs init=<run>: it pulls G back towards a trained source "
            "G's weights after each update, and a run from nothing has no source. Add "
            "init=<checkpoint or run folder>, or leave model.anchor_g at 0 (or auto)."
        )
    if not cfg.get("init"):
        return None
    if start.ckpt_path is not None:
        log.info("init=%s is not applied again: a resume's weights are its checkpoint's", cfg.init)
        return None
    source = finetune.read_source(cfg.init)
    finetune.take_networks(cfg, source, overrides)
    return source


def build(cfg: DictConfig) -> tuple[GAN, L.LightningDataModule]:
    """A new run's module and data from a composed config (settled, then built, init= applied):
    for scripts, benchmarks and tests that train by hand."""
    cfg, start, datamodule = settle(cfg)
    return build_module(cfg, datamodule, start.init), datamodule


def build_module(
    cfg: DictConfig, datamodule: L.LightningDataModule, init: finetune.Source | None = None
) -> GAN:
    """The networks and noise of a settled config, by name from gan-lab's registry: the same code
    path as a checkpoint's tools (never Hydra's instantiate of a config node: design §9); with
    ``init`` (a fine-tuning run's source), its weights copied in."""
    class_ids = sorted(set(datamodule.labels.tolist())) if cfg.model.get("conditional") else None
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
        **{k: v for k, v in copy.deepcopy(run_config["model"]).items() if k not in WARMUP_KEYS},
    )
    module.data_fingerprint = datamodule.fingerprint()
    if init is not None:
        finetune.load_weights(module, init, cfg.init_ema)
    return module


def _watch(trainer: L.Trainer, run_dir: Path) -> str:
    """How to watch this run with the loggers it has (the grids and the report in any case)."""
    ways = []
    for logger in trainer.loggers:
        kind = type(logger).__name__
        if kind == "TensorBoardLogger":
            ways.append(f"tensorboard --logdir {run_dir}")
        elif kind == "CSVLogger":
            ways.append(f"the CSV log in {logger.log_dir}")
        elif kind == "MLFlowLogger":
            ways.append(f"mlflow ui --backend-store-uri {logger._tracking_uri}")
        elif kind == "WandbLogger":
            ways.append(f"wandb (offline: wandb sync {logger.save_dir})")
    grids = f"the grids in {layout.samples_dir(run_dir)}; {layout.REPORT} is written at the end"
    return f"{', '.join(ways)} ({grids})" if ways else grids


def start_paragraph(
    run_dir: Path, trainer: L.Trainer, datamodule, start: Start, module: GAN | None = None
) -> str:
    """What the user needs once the run starts: what trains on what, where it writes, how to
    watch it and how to go on after a stop."""
    device = trainer.strategy.root_device
    where = f"resumed at epoch {start.epoch} from {start.ckpt_path}" if start.ckpt_path else "new"
    if start.init is not None:
        where += f", from the networks of {start.init.path} (epoch {start.init.record['epoch']})"
    if frozen := finetune.frozen(module):
        where += f"; {frozen}"
    return (
        f"training on {device.type} in {trainer.precision} precision, {len(datamodule.images)} "
        f"images ({where}). Run folder: {run_dir}. Watch: {_watch(trainer, run_dir)}. "
        f"Stopped? The same command with ckpt_path={layout.last_checkpoint(run_dir)} goes on."
    )


def make_trainer(cfg: DictConfig, **overrides) -> L.Trainer:
    trainer_cfg = to_dict(cfg.trainer)
    trainer_cfg.pop("fast_path", None)  # gan-lab's, not Lightning's: the module reads it (build)
    # gan-lab's batches, not Lightning's max_steps (every optimiser step): schedule.StepLimit.
    max_steps = trainer_cfg.pop("max_steps", None)
    check_trainer(trainer_cfg)
    check_accelerator(trainer_cfg.get("accelerator", "auto"))
    skip_absent_nvml()  # every optimiser step asks whether CUDA is there (gan_lab/hardware.py)
    if trainer_cfg.get("max_time") is not None:  # 10m, 1h30m, seconds → Lightning's DD:HH:MM:SS
        trainer_cfg["max_time"] = lightning_time(max_time_seconds(trainer_cfg["max_time"]))
    if trainer_cfg.get("precision") == "auto":
        trainer_cfg["precision"] = auto_precision(str(trainer_cfg.get("accelerator", "auto")))
    # A node without _target_ is a preset's setting for a callback that callbacks=none removed.
    callbacks = [
        instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c and "_target_" in c
    ]
    callbacks += overrides.pop("callbacks", [])
    if max_steps is not None and max_steps > 0:
        callbacks.append(StepLimit(max_steps))
    loggers = build_loggers(cfg.get("logger"))  # a missing package (mlflow, wandb): a paragraph
    trainer_cfg.update(overrides)
    # Crash-safe checkpoint files (written beside their name, fsynced, renamed: design §9).
    plugins = [AtomicCheckpointIO()]
    return instantiate(trainer_cfg, callbacks=callbacks, logger=loggers or False, plugins=plugins)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, but crash-safe: Lightning's own serialises to a temporary
    file in $TMPDIR and moves it over the target, which is a copy (not a rename) when $TMPDIR is
    another file system, and never fsyncs."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        path = Path(path)
        run = path.parent.parent if layout.in_checkpoints(path) else None  # <run>/checkpoints/x
        save_atomic(path, lambda buffer: torch.save(checkpoint, buffer), run)

    def load_checkpoint(self, path, map_location=None, weights_only=None) -> dict:
        # A checkpoint may come from anyone: tensors and plain values only, never pickled code
        # (gan_lab.training.checkpoint.read_checkpoint has read the same file this way before a resume).
        # Bounded like every other load (gan_lab.errors.load_torch_file): a file swapped in after
        # that check is checked again here.
        # Loaded on the CPU, as Lightning's default map_location does; Lightning moves it on.
        return load_torch_file(path, "checkpoint")


def _check_shapes(module: GAN, stored: dict, ckpt_path) -> None:
    """The stored config's networks hold exactly the stored weights (every key, at its shape), or
    one paragraph (Lightning's strict load would fail after the run folder was written to)."""
    built = module.state_dict()
    for key, value in built.items():
        if key not in stored:  # e.g. model.anchor_g's source G or the EMA, stripped from the file
            said = f"builds {key} of shape {tuple(value.shape)}, but its weights lack it"
        elif tuple(value.shape) != stored[key]:
            said = f"builds {key} of shape {tuple(value.shape)}, but its weights have {stored[key]}"
        else:
            continue
        _refuse_weights(ckpt_path, said)
    if extra := sorted(set(stored) - set(built)):  # weights the stored config does not build
        _refuse_weights(ckpt_path, f"builds no {extra[0]}, but its weights hold it")


def _refuse_weights(ckpt_path, said: str) -> None:
    raise UserError(
        f"{ckpt_path}: its stored config {said}; it was not resumed (the file was not written by "
        "train.py as it is). Use a checkpoint from a run's checkpoints/ folder."
    )


def train(
    cfg: DictConfig, callbacks: list[L.Callback] = (), overrides: list[str] | None = None
) -> dict[str, float]:
    """Train one GAN; returns the final callback metrics (epoch means) as floats.

    ``callbacks`` are added to those of the config (tests use it to watch a run); ``overrides``
    are the command line's key=value arguments (the Hydra app passes them; None when a script
    composed the config itself: see use_stored_config).
    """
    run_dir = Path(cfg.paths.output_dir)
    files.check_no_links(run_dir, cfg.get("ckpt_path"))  # a run folder is data: no links in it
    with run_lock(run_dir):
        # Everything that can refuse the run (values, data, networks) comes before the run folder
        # is touched: a refused resume leaves the earlier branch where it was.
        cfg, start, datamodule = settle(cfg, overrides)
        module = build_module(cfg, datamodule, start.init)
        if start.ckpt_path is not None:  # the same images with the same labels, or a refusal
            fingerprint.check_same_data(
                start.data,
                module.data_fingerprint,
                bool(cfg.get("allow_data_change")),
                start.ckpt_path,
                bool(cfg.model.get("conditional")),
            )
        if start.shapes is not None:  # a stored config that does not fit the stored weights
            _check_shapes(module, start.shapes, start.ckpt_path)
        if start.fast_path is not None:  # the same kernels as before the stop: the same rounding
            module.use_stored_fast_path(start.fast_path)
        trainer = make_trainer(cfg, callbacks=list(callbacks))
        prepare_run_folder(run_dir, start.epoch, start.ckpt_path)
        log.info(start_paragraph(run_dir, trainer, datamodule, start, module))
        # model.warmup: 003 §6 on copies of the networks, before the loop; not again on a resume
        if trainer.is_global_zero:
            resumed = start.ckpt_path is not None
            run_warmup(module, datamodule, cfg, run_dir, trainer.strategy.root_device, resumed)
        try:
            trainer.fit(module, datamodule=datamodule, ckpt_path=start.ckpt_path)
        except KeyError as err:
            if start.ckpt_path is not None:
                raise UserError(f"cannot resume from {start.ckpt_path}: it lacks {err}.") from None
            raise
    return {k: float(v) for k, v in trainer.callback_metrics.items() if isinstance(v, torch.Tensor)}
