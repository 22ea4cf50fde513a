"""train(cfg): build everything from the composed config and fit. ``train.py`` is its thin CLI."""

import logging
import warnings

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from gan_lab.checkpoint import read_checkpoint
from gan_lab.config import to_dict
from gan_lab.distributed import check_trainer
from gan_lab.errors import UserError
from gan_lab.hardware import auto_precision
from gan_lab.models import output_range
from gan_lab.module import GAN

log = logging.getLogger(__name__)

# What defines the networks and the data: taken from the checkpoint when resuming.
STORED_KEYS = ("data", "generator", "discriminator", "noise", "model")

# Lightning's advice for large, file-backed sets; ours are in memory.
warnings.filterwarnings("ignore", message=".*does not have many workers.*")
warnings.filterwarnings("ignore", message=".*`training_step` returns.*")
warnings.filterwarnings(
    "ignore", message=".*isinstance.treespec, LeafSpec.*"
)  # Lightning vs. newer torch


def use_stored_config(cfg: DictConfig) -> DictConfig:
    """Resume = continue the same experiment: networks, data and procedure come from the checkpoint."""
    stored = read_checkpoint(cfg.ckpt_path)["gan_lab"]["config"]
    with open_dict(cfg):
        for key in STORED_KEYS:
            if key in stored:
                cfg[key] = OmegaConf.create(stored[key])
    log.info("resuming from %s with its stored data, network and model config", cfg.ckpt_path)
    return cfg


def build(cfg: DictConfig) -> tuple[GAN, L.LightningDataModule]:
    value_range = output_range(cfg.generator.out_activation)
    datamodule = instantiate(cfg.data, value_range=value_range, _convert_="all")
    datamodule.load()  # fail early, with a clear message, if the data are missing
    class_ids = None
    if cfg.model.get("conditional"):
        # The number of classes comes from the data (subfolders, digits, shapes), never typed twice.
        class_ids = sorted(set(datamodule.labels.tolist()))
        with open_dict(cfg):
            cfg.generator.num_classes = cfg.discriminator.num_classes = len(datamodule.classes)
    generator = instantiate(cfg.generator)
    discriminator = instantiate(cfg.discriminator)
    noise = instantiate(cfg.noise)
    run_config = {**to_dict(cfg), "classes": list(datamodule.classes)}
    module = GAN(
        generator,
        discriminator,
        noise,
        class_ids=class_ids,
        run_config=run_config,
        **to_dict(cfg.model),
    )
    return module, datamodule


def make_trainer(cfg: DictConfig, **overrides) -> L.Trainer:
    trainer_cfg = to_dict(cfg.trainer)
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
    return instantiate(trainer_cfg, callbacks=callbacks, logger=loggers or False)


def train(cfg: DictConfig, callbacks: list[L.Callback] = ()) -> dict[str, float]:
    """Train one GAN; returns the final callback metrics (epoch means) as floats.

    ``callbacks`` are added to those of the config (tests use it to watch a run).
    """
    if cfg.get("ckpt_path"):
        cfg = use_stored_config(cfg)
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True, verbose=False)
    module, datamodule = build(cfg)
    trainer = make_trainer(cfg, callbacks=list(callbacks))
    log.info("precision %s, %d training images", trainer.precision, len(datamodule.images))
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    except KeyError as err:
        if cfg.get("ckpt_path"):
            raise UserError(f"cannot resume from {cfg.ckpt_path}: it lacks {err}.") from None
        raise
    return {k: float(v) for k, v in trainer.callback_metrics.items() if isinstance(v, torch.Tensor)}
