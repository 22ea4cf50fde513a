"""The parts GAN.__init__ (gan_lab.training.module) builds from its arguments before it keeps them:
the networks and noise (given, or rebuilt from a checkpoint's stored config), what D sees in the
G phase, and the labels of the fixed noise; and, once the Trainer is there, whether a phase's update
may skip Lightning's wrappers. Plain functions of their arguments, so the module's own file stays
about the training around the step.
"""

import inspect
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.plugins.precision import MixedPrecision, Precision
from lightning.pytorch.strategies import SingleDeviceStrategy
from lightning.pytorch.utilities.model_helpers import is_overridden
from torch import nn

from gan_lab.config import registry
from gan_lab.config.validate import read_stored
from gan_lab.core.noise import Noise
from gan_lab.core.step import Networks, Optimisation, toggled
from gan_lab.errors import UserError
from gan_lab.models.freeze import anchored
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


# What Lightning's manual_backward and LightningOptimizer.step add to a phase's update on one
# device without a loss scaler: calls of these hooks, and nothing else.
PHASE_HOOKS = ("on_before_backward", "on_after_backward", "on_before_optimizer_step")


def direct_updates(module: L.LightningModule, trainer: L.Trainer) -> bool:
    """Whether a phase's update may skip Lightning's wrappers (GAN._update): on one device, in
    fp32 or bf16 (no loss scaler), with no callback or module hook on the backward pass or the
    optimiser step, ``manual_backward`` and ``LightningOptimizer.step`` only dispatch those hooks
    around ``loss.backward()`` and ``optimizer.step()`` — the wrapper's ~0.1 ms and six hook
    dispatches a step (benchmarks/README.md, "Every millisecond of the step"). Anywhere else (DDP, fp16's scaler,
    a hook someone relies on) the phase goes through Lightning as before."""
    plugin = trainer.precision_plugin
    if type(trainer.strategy) is not SingleDeviceStrategy:
        return False
    if type(plugin) not in (Precision, MixedPrecision) or getattr(plugin, "scaler", None):
        return False
    if is_overridden("backward", module, L.LightningModule):
        return False
    hooked = [(module, L.LightningModule)] + [(cb, L.Callback) for cb in trainer.callbacks]
    return not any(is_overridden(h, obj, parent) for h in PHASE_HOOKS for obj, parent in hooked)


def generators(module) -> list[nn.Module]:
    """Every generator the module holds, each laid out as the fast path chooses: the trained G, its
    EMA and a fine-tune's frozen source (model.anchor_g), the last two where there are."""
    ema = module.generator_ema.module if module.generator_ema is not None else None
    return [g for g in (module.generator, ema, module.source_generator) if g is not None]


def step_parts(module) -> tuple[Networks, Optimisation]:
    """What GAN.training_step hands the step, built once an epoch (on_train_epoch_start forgets
    them): the networks (G and D compiled in on_fit_start when chosen), and the phases of
    Lightning's manual optimisation — one optimiser a phase, the other network's weights frozen
    as by Lightning's toggled_optimizer (core.step.toggled), the update by GAN._update."""
    opts = dict(zip(("D", "G"), module.optimizers(), strict=True))
    nets = Networks(
        G=getattr(module, "_g", module.generator),
        D=getattr(module, "_d", module.discriminator),
        generator=module.generator,
        discriminator=module.discriminator,
        ema=module.generator_ema,
        noise=module.noise,
        anchor=None
        if (src := module.source_generator) is None
        else anchored(module.generator, src),
    )
    phases = Optimisation(
        phase=toggled({name: opt.optimizer for name, opt in opts.items()}),
        keep=module._keep_buffers,
        update=lambda phase, loss: module._update(opts[phase], loss, phase),
    )
    return nets, phases


class QuickHooks:
    """What Lightning does to its module at every batch, made cheap where it only asks: ~20 times a
    step it names the hook it runs (``_current_fx_name``), which nn.Module.__setattr__ would
    check against the parameters, modules and buffers (~1 µs each, always no); and it asks
    inspect for training_step's parameters (~7 µs), which a subclass gets ready once here."""

    plain_attributes = frozenset({"_current_fx_name"})  # never a tensor or module

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "training_step" in vars(cls):
            cls.training_step.__signature__ = inspect.signature(cls.training_step)

    def __setattr__(self, name: str, value) -> None:
        if name in self.plain_attributes:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)
