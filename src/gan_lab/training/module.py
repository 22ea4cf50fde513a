"""The training system around the step of design §4 (gan_lab/core/step.py: one D phase and one G
phase per batch, the same function the fast path times).

This module hands the step the run's networks (compiled when the fast path says so) and
Lightning's manual optimisation with the NaN guard, and keeps what lies around it: the random
streams, the fixed noise, ADA's adjustments, the epoch's statistics, checkpoints' extras.
The networks, the latent distribution and the loss are injected; monitoring,
checkpoint policy and sample grids live in callbacks that read the public
attributes (``generator``, ``noise``, ``fixed_z``, ``fixed_y``, ``conditional``,
``class_ids``, ``value_range``, ``shown_generator``) and the methods ``generate`` and
``generate_fixed``. The procedure's values come from conf/model/ (no defaults here, so
none can disagree with the YAML); the small-data options (EMA of G, DiffAugment, ADA, R1)
are off in the source documents' presets, so the reference procedure stays exactly 003's.
"""

import dataclasses
import logging
import math

import lightning as L
import torch
from torch import nn

from gan_lab.core.ada import AdaptiveAugment
from gan_lab.core.diffaug import parse_policy
from gan_lab.core.ema import HALF_LIFE, HalfLife, make_ema, shown_generator
from gan_lab.core.losses import build_loss
from gan_lab.core.noise import Noise
from gan_lab.core.rng import capture, restore, seed_rank
from gan_lab.core.step import Procedure, adam, step
from gan_lab.errors import UserError
from gan_lab.models.freeze import freeze_first, frozen_copy, trained
from gan_lab.runs.keys import ADA_P, STAT_KEYS, epoch_key, step_key
from gan_lab.runs.rollback import any_rank
from gan_lab.training import fast_path
from gan_lab.training.loggers import log_step
from gan_lab.training.module_parts import (
    QuickHooks,
    direct_updates,
    fixed_labels,
    g_batch_for,
    generators,
    given_or_stored,
    step_parts,
)
from gan_lab.training.schedule import batches_done, epochs_done

NONFINITE = ("skip", "warn", "rollback", "stop")
G_FAKES = ("new", "reuse")  # model.g_fakes (gan_lab/core/step.py)

log = logging.getLogger(__name__)


class GAN(QuickHooks, L.LightningModule):
    plain_attributes = QuickHooks.plain_attributes | {"_stat_sum", "_stat_n"}  # set each step

    def __init__(
        self,
        generator: nn.Module | None = None,
        discriminator: nn.Module | None = None,
        noise: Noise | None = None,
        *,
        loss: str,
        lr_g: float,
        lr_d: float,
        betas_g: tuple[float, float],
        betas_d: tuple[float, float],
        d_steps: int,
        label_noise: float,
        real_label: float,
        fake_label: float,
        g_batch: str,
        n_fixed: int,
        channels_last: bool | str,
        conditional: bool,
        ema: float | str,
        diffaug: str | list | None,
        r1_gamma: float,
        compile: bool | str,
        class_loss: float = 0.0,
        g_fakes: str = "new",  # a checkpoint of a version before model.g_fakes: new fakes
        gp_weight: float = 10.0,
        ada: dict | None = None,
        ema_images: int = 10_000,
        ema_rampup: float = 0.0,
        nonfinite: str,
        freeze_d: int = 0,  # model.freeze_d / freeze_g (gan_lab/models/freeze.py); 0 before them
        freeze_g: int = 0,
        anchor_g: float = 0.0,  # model.anchor_g (core/step.py pull_back); 0 before it
        class_ids: list[int] | None = None,
        run_config: dict | None = None,
        fast_path_mode: str = "off",
    ):
        super().__init__()
        # hparams: every argument but the networks, so Lightning's own GAN.load_from_checkpoint
        # works: a network not given is built from the stored run config (module_parts).
        self.save_hyperparameters(ignore=["generator", "discriminator", "noise"])
        generator, discriminator, noise = given_or_stored(
            generator, discriminator, noise, run_config
        )
        self.automatic_optimization = False
        self.generator, self.discriminator, self.noise = generator, discriminator, noise
        # FreezeD (Mo et al. 2020): the first blocks get no gradient and are in no optimiser
        # (configure_optimizers), before the EMA copies G; a count that leaves nothing is refused.
        freeze_first(discriminator, freeze_d, "discriminator")
        freeze_first(generator, freeze_g, "generator")
        self.freeze_d, self.freeze_g, self.anchor_g = freeze_d, freeze_g, float(anchor_g)
        # model.anchor_g: G is pulled back to a frozen copy of the source G (finetune.load_weights)
        self.source_generator = frozen_copy(generator) if self.anchor_g > 0 else None
        self.loss = build_loss(loss)
        self.lr_g, self.lr_d = lr_g, lr_d
        self.betas_g, self.betas_d = tuple(betas_g), tuple(betas_d)
        self.d_steps, self.label_noise = d_steps, label_noise
        self.g_batch = g_batch_for(g_batch, discriminator)
        if g_fakes not in G_FAKES:  # "auto" is recipe=auto's to resolve before the module
            raise UserError(f"model.g_fakes must be one of {', '.join(G_FAKES)}, not '{g_fakes}'.")
        self.g_fakes = g_fakes
        self.real_label, self.fake_label = real_label, fake_label
        # Layout, fusion, compilation and threads: what model.channels_last / model.compile fix,
        # and the fastest measured path for the rest (trainer.fast_path, gan_lab/training/fast_path.py).
        self.channels_last = fast_path.parse_layout(channels_last)
        self.compile = fast_path.parse_compile(compile)
        if fast_path_mode not in fast_path.MODES:
            raise UserError(f"trainer.fast_path must be auto or off, not '{fast_path_mode}'.")
        self.fast_path_mode = fast_path_mode
        self.fast_path = fast_path.PLAIN
        self.stored_fast_path: fast_path.FastPath | None = None  # use_stored_fast_path (resume)
        self.memory_format = torch.contiguous_format
        # Drawn once (after seeding) and saved in every checkpoint as buffers; fixed_y: one grid
        # row of 8 per class for a conditional model (module_parts.fixed_labels), else unused.
        self.conditional = conditional
        self.class_ids = list(class_ids or [0])
        fixed_y = fixed_labels(conditional, self.class_ids, n_fixed)
        self.register_buffer("fixed_z", noise.sample(len(fixed_y), generator.latent_dim))
        self.register_buffer("fixed_y", fixed_y)
        # The resolved run config, stored in checkpoints so tools can rebuild the networks.
        self.run_config = run_config or {}
        self.data_fingerprint: dict | None = None  # set by gan_lab.training.train.build_module
        # Averaged G (its weights are saved as generator_ema.module.*; tools prefer them).
        # model.ema: a decay per update, or half_life (ema_images, ema_rampup; gan_lab/core/ema.py).
        self.ema_rule = HalfLife(ema_images, ema_rampup) if ema == HALF_LIFE else ema
        self.generator_ema = (
            make_ema(generator, self.ema_rule) if ema == HALF_LIFE or ema > 0 else None
        )
        self.diffaug_ops, self.r1_gamma = parse_policy(diffaug), r1_gamma
        self.gp_weight = gp_weight if self.loss.penalty else 0.0  # model.loss=wgan_gp only
        # Adaptive augmentation (gan_lab/core/ada.py): a child module only when on, so its buffers
        # (p, the sign sums) are in the checkpoints of ADA runs and nowhere else.
        ada = dict(ada or {})
        self.ada = AdaptiveAugment(**ada) if ada.pop("enabled", False) else None
        # Conditional runs only: an unconditional D has no class head (train.load_data), no loss.
        self.class_loss = class_loss if getattr(discriminator, "classify", None) else 0.0
        # A phase whose loss is NaN/Inf: skipped (never applied to the weights) unless "warn";
        # the run guard (callbacks/guard.py) reports it, and rolls back or stops by config.
        if nonfinite not in NONFINITE:
            raise UserError(
                f"model.nonfinite must be one of {', '.join(NONFINITE)}, not '{nonfinite}'."
            )
        self.nonfinite = nonfinite
        self.nonfinite_events: list[tuple[int, int, str, float]] = []  # (epoch, batch, phase, loss)
        self._rng_to_restore: dict | None = None
        self._kept: tuple[list[torch.Tensor], list[torch.Tensor]] | None = None  # _keep_buffers
        self._parts = None  # training_step's (Networks, Optimisation), found once an epoch
        # The epoch's running sums of STAT_KEYS (weighted by batch size) and the images counted.
        self._stat_sum: torch.Tensor | None = None
        self._stat_n = 0

    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        if self.ada is not None and dm is not None:  # speed/start_images=auto scale with the set
            self.ada.resolve(len(dm.images))
        if isinstance(self.ema_rule, HalfLife) and dm is not None:
            self.ema_rule.images_per_update = dm.batch_size * self.trainer.world_size
        # Here, not in on_fit_start: DDP must see the final layout when it wraps the module.
        path, why = fast_path.choose_for(self, self.trainer, self.procedure)
        log.info("fast path: %s — %s", path.describe(), why)
        fast_path.apply(path, generators(self), self.discriminator)
        self.fast_path = path
        self.memory_format = torch.channels_last if path.channels_last else torch.contiguous_format

    def use_stored_fast_path(self, stored: dict) -> None:
        """A resumed run keeps the path it ran on (a cache entry may have changed since): layout,
        fusion and compilation change the rounding, so they are part of a bit-exact resume."""
        self.stored_fast_path = fast_path.stored_path(stored)

    def on_train_start(self) -> None:
        # Random streams (design §9): a resumed run continues the stored ones; DDP ranks each get
        # their own (the fixed noise, drawn before the ranks started, stays common).
        if self._rng_to_restore is not None:
            restore(self._rng_to_restore)
            self._rng_to_restore = None
        if self.trainer.world_size > 1:
            seed = self.run_config.get("seed") or 0
            seed_rank(seed, self.trainer.global_rank, self.trainer.current_epoch)

    def on_fit_start(self) -> None:
        # Compiled callables are kept out of the module tree (object.__setattr__), so the
        # state dict and checkpoints keep their plain parameter names.
        g, d, mode = self.generator, self.discriminator, self.fast_path.compile
        object.__setattr__(self, "_g", torch.compile(g, mode=mode) if mode else g)
        object.__setattr__(self, "_d", torch.compile(d, mode=mode) if mode else d)
        self._direct = direct_updates(self, self.trainer)

    def configure_optimizers(self):
        # Frozen blocks (model.freeze_d / freeze_g) are left out: the phase toggle (core.step.toggled)
        # never turns their gradients on, and no Adam step (nor 0-grad momentum) moves them.
        opt_d = adam(trained(self.discriminator), self.lr_d, self.betas_d)
        opt_g = adam(trained(self.generator), self.lr_g, self.betas_g)
        return opt_d, opt_g

    def sample_y(self, n: int) -> torch.Tensor | None:
        """Random labels among the classes trained on (None for an unconditional model)."""
        if not self.conditional:
            return None
        ids = torch.tensor(self.class_ids, device=self.device)
        return ids[torch.randint(len(ids), (n,), device=self.device)]

    @property
    def procedure(self) -> Procedure:
        """This run's design §4 procedure, as the step (gan_lab/core/step.py) reads it."""
        return Procedure(
            loss=self.loss,
            d_steps=self.d_steps,
            label_noise=self.label_noise,
            real_label=self.real_label,
            fake_label=self.fake_label,
            g_batch=self.g_batch,
            g_fakes=self.g_fakes,
            r1_gamma=self.r1_gamma,
            gp_weight=self.gp_weight,
            class_loss=self.class_loss,
            diffaug_ops=self.diffaug_ops,
            ada=self.ada,
            anchor_g=self.anchor_g,
        )

    def training_step(self, batch, batch_idx):
        real, labels = batch
        real = real.contiguous(memory_format=self.memory_format)
        b = real.shape[0]
        if self._parts is None:  # once an epoch (module_parts.step_parts)
            self._parts = step_parts(self)
        nets, lightning = self._parts
        out = step(nets, self.procedure, real, labels if self.conditional else None, lightning)
        if self.ada is not None and (batches_done(self.trainer) + 1) % self.ada.interval == 0:
            # every rank's reals count: ADA's step is the global batch × interval / speed
            images = b * self.trainer.world_size * self.ada.interval
            self.ada.adjust(images, lambda t: self.trainer.strategy.reduce(t, reduce_op="sum"))
        stats = out.stats(b)
        self._record(stats, b)
        return dict(zip(STAT_KEYS, stats, strict=True))

    def _update(self, opt, loss: torch.Tensor, phase: str) -> bool:
        """A phase's weight update, unless its loss is NaN/Inf (then skipped: see _finite)."""
        opt.zero_grad(set_to_none=True)
        if not self._finite(loss, phase):
            return False
        if getattr(self, "_direct", False):  # what Lightning's wrappers do here (module_parts)
            loss.backward()
            opt._on_before_step()  # Lightning's count of optimiser steps: trainer.global_step
            opt.optimizer.step()
            opt._on_after_step()
        else:
            self.manual_backward(loss)
            opt.step()
        return True

    # Logging. Lightning's self.log costs ~0.3 ms a value (it walks its result objects then and at
    # every batch's end). So the module keeps the epoch sums itself (a tensor add a step, no sync),
    # writes the step values to the loggers on the steps they take them (loggers.log_step), and
    # hands Lightning only the epoch means, at the epoch's last batch: `<name>_step`, `_epoch`.

    def _record(self, stats: torch.Tensor, b: int) -> None:
        # a product then a sum, as before: add(stats, alpha=b) is one fused multiply-add (one
        # rounding), which moved the logged means in the last bit at batch sizes not a power of 2
        self._stat_sum = stats * b if self._stat_sum is None else self._stat_sum + stats * b
        self._stat_n += b
        every = self.trainer.log_every_n_steps
        if every and (batches_done(self.trainer) + 1) % every == 0:
            # This rank's values (one host sync); with DDP only the epoch means cover every rank.
            values = dict(zip(map(step_key, STAT_KEYS), stats.tolist(), strict=True))
            if self.ada is not None:
                values[step_key(ADA_P)] = float(self.ada.p)
            log_step(self.trainer, values)  # and the progress bar shows them

    def _log_epoch_means(self) -> None:
        if self._stat_sum is None:
            return
        means = self._stat_sum / self._stat_n
        self.log_dict(
            {epoch_key(k): v for k, v in zip(STAT_KEYS, means, strict=True)},
            on_step=False,
            on_epoch=True,
            prog_bar=True,
            batch_size=self._stat_n,
            sync_dist=True,  # with DDP: the mean over every rank's images
        )
        if self.ada is not None:  # p as it stands at the epoch's end (the same on every rank)
            self.log(
                epoch_key(ADA_P), self.ada.p.clone(), on_step=False, on_epoch=True, batch_size=1
            )
        self._stat_sum, self._stat_n = None, 0

    def on_train_epoch_start(self) -> None:
        self._stat_sum, self._stat_n = None, 0
        self._kept = None  # _keep_buffers finds the buffers again (the module may have moved)
        self._parts = None  # and training_step its networks and phases
        if self.generator_ema is not None:  # and so does the EMA (gan_lab/core/ema.Averaged)
            self.generator_ema.forget()

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        # `done` is true after the epoch's last batch, and after a batch where a callback (the
        # max_time Timer, early stopping) asked to stop; the callbacks' on_train_epoch_end
        # hooks, which read the epoch means, run after this and before the module's own.
        if self.trainer.fit_loop.epoch_loop.done:
            self._log_epoch_means()

    # What the run shows: one owner for "which generator" (the EMA one when there is one).

    @property
    def shown_generator(self) -> nn.Module:
        return shown_generator(self.generator, self.generator_ema)

    @property
    def value_range(self) -> tuple[float, float]:
        """The generator's pixel range; ``models.to_unit`` maps it to [0, 1] for display."""
        return self.generator.value_range

    @torch.no_grad()
    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Images of the shown generator in eval mode (BatchNorm running stats), as float32.

        A conditional model without ``y`` draws random classes among those trained on.
        """
        g = self.shown_generator
        was_training = g.training
        g.eval()
        if self.conditional and y is None:
            y = self.sample_y(len(z))
        try:
            return g(z.to(self.device), None if y is None else y.to(self.device)).float()
        finally:
            g.train(was_training)

    def generate_fixed(self, n: int | None = None) -> torch.Tensor:
        """The first ``n`` (default all) fixed-noise images: the grids, SSIM and collapse check."""
        n = len(self.fixed_z) if n is None else n
        return self.generate(self.fixed_z[:n], self.fixed_y[:n] if self.conditional else None)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["gan_lab"] = {
            "config": self.run_config,
            "format": 2,
            "rng": capture(),
            "fast_path": dataclasses.asdict(self.fast_path),
            "data": self.data_fingerprint,  # gan_lab.data.fingerprint: what a resume compares
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self._rng_to_restore = checkpoint.get("gan_lab", {}).get("rng")

    # A phase whose loss is NaN/Inf on any rank is skipped on every rank, and leaves no trace: its
    # forward passes ran in train mode and moved BatchNorm statistics and spectral-norm vectors,
    # so the networks' buffers are copied before each phase and put back when it is skipped.
    # One foreach copy into tensors kept for the epoch (~25 µs on a 2-core CPU): walking the
    # modules and cloning each buffer every phase cost ~0.2 ms, a percent of a small step.

    def _keep_buffers(self) -> None:
        if self.nonfinite == "warn":  # applied anyway: nothing to put back
            return
        if self._kept is None:
            live = [*self.generator.buffers(), *self.discriminator.buffers()]
            self._kept = live, [torch.empty_like(b) for b in live]
        live, saved = self._kept
        if live:  # (foreach refuses empty lists)
            torch._foreach_copy_(saved, live)

    def _finite(self, loss: torch.Tensor, phase: str) -> bool:
        """One host sync (and under DDP one all_reduce) a phase: a NaN/Inf loss must be caught
        before it reaches the weights, and all ranks must skip together."""
        loss = loss.detach()
        if self.trainer.world_size == 1 and math.isfinite(loss.item()):  # the common case
            return True
        nan, inf = any_rank(torch.stack([loss.isnan(), loss.isinf()]))
        if not (nan or inf):
            return True
        step = batches_done(self.trainer) + 1
        value = float(loss)  # this rank's; a rank whose own loss was finite reports the others'
        value = value if not math.isfinite(value) else float("nan" if nan else "inf")
        self.nonfinite_events.append((epochs_done(self.trainer), step, phase, value))
        if self.nonfinite == "warn":  # applied anyway, as asked
            return True
        live, saved = self._kept
        if live:
            torch._foreach_copy_(live, saved)
        return False

    def on_roll_back(self) -> None:
        """rollback.roll_back: this epoch's sums so far belong to the abandoned path."""
        self._stat_sum, self._stat_n = None, 0
