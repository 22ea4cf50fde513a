"""Rebuild the generator (and discriminator) from a checkpoint file alone.

A gan-lab checkpoint is a Lightning checkpoint with a ``gan_lab`` entry holding the
resolved run config; it loads with ``torch.load(weights_only=True)``.

Wherever a checkpoint is asked for, ``best@<run_dir>`` (or ``<run_dir>/best``) names the best one
in the run's ``scores.csv``, written by ``gan-lab score run_dir=<run_dir>``.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from gan_lab.config import registry
from gan_lab.config.validate import read_stored
from gan_lab.core.ema import LIVE_PREFIX, shown_prefix
from gan_lab.core.noise import Noise
from gan_lab.errors import UserError, load_torch_file
from gan_lab.runs import files, layout

log = logging.getLogger(__name__)


@dataclass
class LoadedGAN:
    path: Path
    config: dict
    generator: nn.Module
    noise: Noise
    fixed_z: torch.Tensor
    epoch: int
    state_dict: dict

    @property
    def classes(self) -> list[str]:
        return list(self.config.get("classes", []))

    @property
    def class_ids(self) -> list[int] | None:
        """The classes the run trained on (a conditional run's grid rows), else None."""
        if not self.conditional or "fixed_y" not in self.state_dict:
            return None
        return sorted(set(self.state_dict["fixed_y"].tolist()))

    @property
    def conditional(self) -> bool:
        return bool(getattr(self.generator, "num_classes", 0))

    def class_index(self, value: int | str) -> int:
        """A class given by index or by name → its index; a UserError names the valid ones."""
        if not self.conditional:
            raise UserError(f"{self.path} is not a conditional generator: it takes no class.")
        names = self.classes
        if isinstance(value, int) and 0 <= value < self.generator.num_classes:
            return value
        if str(value) in names:
            return names.index(str(value))
        raise UserError(
            f"class '{value}' is not one of this generator's classes: {names} (or 0..{len(names) - 1})."
        )

    @property
    def value_range(self) -> tuple[float, float]:
        return self.generator.value_range

    def discriminator(self) -> nn.Module:
        return _rebuild("discriminator", self.config, self.state_dict, "discriminator.", self.path)


def resolve_checkpoint(spec: str | Path) -> Path:
    """A checkpoint file, or ``best@<run_dir>`` / ``<run_dir>/best`` → the best one scored there."""
    text = str(spec)
    run_dir = layout.parse_best(text)
    if run_dir is None:
        return Path(text).expanduser()
    table = run_dir.expanduser() / layout.SCORES_CSV
    if not table.is_file():
        raise UserError(
            f"'{text}' asks for the best checkpoint of {run_dir}, but {table} does not exist; "
            f"score the run first: gan-lab score run_dir={run_dir}"
        )
    # Read as data: a regular file inside the run folder, capped (gan_lab.runs.files).
    best = [row for row in files.read_rows(table) if row.get("best") == "yes"]
    if not best:
        raise UserError(f"{table} marks no checkpoint as best; run gan-lab score again.")
    named = Path(best[0]["checkpoint"])
    path = named if named.is_absolute() else table.parent / named
    if not path.resolve().is_relative_to(table.parent.resolve()):
        raise UserError(
            f"{table} names {named} as the best checkpoint, which is outside the run folder "
            f"{table.parent}; it was not opened ({layout.SCORES_CSV} names the run's own "
            "checkpoints). "
            f"Score the run again: gan-lab score run_dir={run_dir}"
        )
    return path


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint's contents, its stored config read as data against the schema (design §9):
    a UserError for anything but plain values of gan-lab's own keys; the config returned has every
    path it names inside the run folder (gan_lab.config.validate.read_stored)."""
    path = resolve_checkpoint(path)
    ckpt = load_torch_file(path, "checkpoint")
    if not isinstance(ckpt, dict) or "gan_lab" not in ckpt or "state_dict" not in ckpt:
        raise UserError(
            f"{path} is not a gan-lab checkpoint (no 'gan_lab' entry); use a file from "
            f"{layout.checkpoints_dir('<run>')}/ written by train.py."
        )
    info = ckpt["gan_lab"] if isinstance(ckpt["gan_lab"], dict) else {}
    ckpt["gan_lab"] = {**info, "config": read_stored(info.get("config"), path, layout.run_of(path))}
    if info.get("fast_path") is not None:  # what a resume hands to GAN.use_stored_fast_path
        from gan_lab.training.fast_path import (
            stored_path,  # Lightning's import: only where one is stored
        )

        stored_path(info["fast_path"], path)
    return ckpt


def _rebuild(group: str, config: dict, state_dict: dict, prefix: str, source) -> nn.Module:
    net = registry.build(group, config[group], source)
    try:
        net.load_state_dict(
            {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
        )
    except RuntimeError as err:  # the stored config and the stored weights disagree
        said = " ".join(str(err).split())
        raise UserError(
            f"{source}: its stored {group} settings do not fit its stored weights ({said:.300}); "
            "it was not loaded. Use a checkpoint written by train.py."
        ) from None
    return net.eval()


def load_gan(path: str | Path, device: str | torch.device = "cpu", ema: bool = True) -> LoadedGAN:
    """Generator in eval mode on ``device``, with the run's noise, fixed noise and config.

    The averaged (EMA) generator is used when the run kept one, unless ``ema=False``.
    """
    path = resolve_checkpoint(path)
    ckpt = read_checkpoint(path)
    config = ckpt["gan_lab"]["config"]
    state = ckpt["state_dict"]
    prefix = shown_prefix(state) if ema else LIVE_PREFIX
    generator = _rebuild("generator", config, state, prefix, path).to(device)
    return LoadedGAN(
        path=Path(path),
        config=config,
        generator=generator,
        noise=registry.build("noise", config["noise"], path),
        fixed_z=state["fixed_z"].to(device),
        epoch=int(ckpt.get("epoch", -1)) + 1,
        state_dict=state,
    )


def epochs_done_in(ckpt: dict) -> int:
    """The epochs a checkpoint has completed: where training from it starts."""
    return int(ckpt.get("epoch", -1)) + 1


def newest(ckpt_path: Path) -> tuple[Path, dict] | None:
    """The checkpoint to resume from, read once; None when there is none yet.

    last.ckpt means "the newest state": a kill between writing epoch_N.ckpt and last.ckpt leaves
    last.ckpt one epoch behind (or not there yet), and then epoch_N.ckpt is where to go on from.
    A last.ckpt in a run folder without any checkpoint is the first start of a command that is
    repeated as it is (a preempted job requeued, a loop that restarts a killed run): None."""
    history = layout.history_in(ckpt_path.parent)
    if layout.is_last(ckpt_path) and not ckpt_path.exists():
        if layout.in_checkpoints(ckpt_path) and not layout.all_checkpoints(ckpt_path.parent):
            return None
        if history:
            return history[-1][1], read_checkpoint(history[-1][1])
    ckpt = read_checkpoint(ckpt_path)
    if not layout.is_last(ckpt_path) or not history:
        return ckpt_path, ckpt
    epoch = epochs_done_in(ckpt)
    if history[-1][0] > epoch:
        log.warning(
            "%s is at epoch %d; resuming from the newer %s", ckpt_path, epoch, history[-1][1]
        )
        return history[-1][1], read_checkpoint(history[-1][1])
    return ckpt_path, ckpt
