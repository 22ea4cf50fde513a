"""The parts GAN.__init__ (gan_lab.training.module) builds from its arguments before it keeps them:
the networks and noise (given, or rebuilt from a checkpoint's stored config), what D sees in the
G phase, and the labels of the fixed noise. Plain functions of their arguments, so the module's
own file stays about the training around the step.
"""

from pathlib import Path

import torch
from torch import nn

from gan_lab.config import registry
from gan_lab.config.validate import read_stored
from gan_lab.core.noise import Noise
from gan_lab.errors import UserError
from gan_lab.runs import layout


def given_or_stored(
    generator: nn.Module | None,
    discriminator: nn.Module | None,
    noise: Noise | None,
    run_config: dict | None,
) -> tuple[nn.Module, nn.Module, Noise]:
    """G, D and the noise: each one given, or built from the stored run config (Lightning's own
    GAN.load_from_checkpoint passes none of them)."""
    return tuple(
        given if given is not None else stored_network(run_config or {}, name)
        for name, given in (
            ("generator", generator),
            ("discriminator", discriminator),
            ("noise", noise),
        )
    )


def stored_network(run_config: dict, name: str) -> nn.Module | Noise:
    """G, D or the noise from a run config as stored in checkpoints, built only from gan-lab's
    own classes (design §9): a checkpoint is someone else's file."""
    if name not in run_config:
        raise UserError(
            f"GAN needs a {name} or a run_config holding one; a checkpoint written by train.py "
            f"has it: GAN.load_from_checkpoint({layout.last_checkpoint('<run>')})."
        )
    source = "the checkpoint's config"
    config = read_stored(dict(run_config), source, Path.cwd())  # data, never code
    return registry.build(name, config[name], source)


def g_batch_for(g_batch: str, discriminator: nn.Module) -> str:
    """model.g_batch: mixed or fake; auto = mixed only for a D with BatchNorm (real images in the
    G phase matter only to a batch-dependent D)."""
    if g_batch not in ("mixed", "fake", "auto"):
        raise UserError(f"model.g_batch must be 'mixed', 'fake' or 'auto', not '{g_batch}'.")
    if g_batch == "auto":
        has_bn = any(
            isinstance(m, nn.modules.batchnorm._BatchNorm) for m in discriminator.modules()
        )
        g_batch = "mixed" if has_bn else "fake"
    return g_batch


def fixed_labels(conditional: bool, class_ids: list[int], n_fixed: int) -> torch.Tensor:
    """The fixed noise's labels: a conditional model gets one grid row of 8 per class present in
    the data (model.n_fixed is then 8 × the classes); else zeros, unused."""
    if conditional:
        n_fixed = 8 * len(class_ids)
    fixed_y = (
        torch.tensor(class_ids).repeat_interleave(8)[:n_fixed]
        if conditional
        else torch.zeros(n_fixed)
    )
    return fixed_y.long()
