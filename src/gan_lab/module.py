"""The training system: design §4 — one D phase and one G phase per batch.

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
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Timer
from torch import nn

from gan_lab import fast_path, registry
from gan_lab.ada import AdaptiveAugment
from gan_lab.diffaug import diff_augment, parse_policy
from gan_lab.ema import make_ema, shown_generator
from gan_lab.errors import UserError
from gan_lab.keys import ADA_P, STAT_KEYS, epoch_key, step_key
from gan_lab.losses import build_loss, gradient_penalty
from gan_lab.noise import Noise
from gan_lab.rng import capture, restore, seed_rank
from gan_lab.rollback import any_rank
from gan_lab.runs import layout
from gan_lab.schedule import batches_done, epochs_done
from gan_lab.validate import read_stored

NONFINITE = ("skip", "warn", "rollback", "stop")

log = logging.getLogger(__name__)


class GAN(L.LightningModule):
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
        ema: float,
        diffaug: str | list | None,
        r1_gamma: float,
        compile: bool | str,
        class_loss: float = 0.0,
        gp_weight: float = 10.0,
        ada: dict | None = None,
        nonfinite: str,
        class_ids: list[int] | None = None,
        run_config: dict | None = None,
        fast_path_mode: str = "off",
    ):
        super().__init__()
        # hparams: every argument but the networks, so Lightning's own GAN.load_from_checkpoint
        # works: a network not given is built from the stored run config (stored_network).
        self.save_hyperparameters(ignore=["generator", "discriminator", "noise"])
        generator, discriminator, noise = (
            given if given is not None else stored_network(run_config or {}, name)
            for name, given in (
                ("generator", generator),
                ("discriminator", discriminator),
                ("noise", noise),
            )
        )
        self.automatic_optimization = False
        self.generator, self.discriminator, self.noise = generator, discriminator, noise
        self.loss = build_loss(loss)
        self.lr_g, self.lr_d = lr_g, lr_d
        self.betas_g, self.betas_d = tuple(betas_g), tuple(betas_d)
        self.d_steps, self.label_noise = d_steps, label_noise
        if g_batch not in ("mixed", "fake", "auto"):
            raise UserError(f"model.g_batch must be 'mixed', 'fake' or 'auto', not '{g_batch}'.")
        if g_batch == "auto":  # real images in the G phase matter only to a batch-dependent D
            has_bn = any(
                isinstance(m, nn.modules.batchnorm._BatchNorm) for m in discriminator.modules()
            )
            g_batch = "mixed" if has_bn else "fake"
        self.g_batch = g_batch
        self.real_label, self.fake_label = real_label, fake_label
        # Layout, fusion, compilation and threads: what model.channels_last / model.compile fix,
        # and the fastest measured path for the rest (trainer.fast_path, gan_lab/fast_path.py).
        self.channels_last = fast_path.parse_layout(channels_last)
        self.compile = fast_path.parse_compile(compile)
        if fast_path_mode not in fast_path.MODES:
            raise UserError(f"trainer.fast_path must be auto or off, not '{fast_path_mode}'.")
        self.fast_path_mode = fast_path_mode
        self.fast_path = fast_path.PLAIN
        self.memory_format = torch.contiguous_format
        # Drawn once (after seeding) and saved in every checkpoint as buffers. A conditional
        # model gets one grid row of 8 per class present in the data (fixed_y); else fixed_y is unused.
        self.conditional = conditional
        self.class_ids = list(class_ids or [0])
        if conditional:
            n_fixed = 8 * len(self.class_ids)
        fixed_y = (
            torch.tensor(self.class_ids).repeat_interleave(8)[:n_fixed]
            if conditional
            else torch.zeros(n_fixed)
        )
        self.register_buffer("fixed_z", noise.sample(n_fixed, generator.latent_dim))
        self.register_buffer("fixed_y", fixed_y.long())
        # The resolved run config, stored in checkpoints so tools can rebuild the networks.
        self.run_config = run_config or {}
        # Averaged G (its weights are saved as generator_ema.module.*; tools prefer them).
        self.generator_ema = make_ema(generator, ema) if ema > 0 else None
        self.diffaug_ops, self.r1_gamma = parse_policy(diffaug), r1_gamma
        self.gp_weight = gp_weight if self.loss.penalty else 0.0  # model.loss=wgan_gp only
        # Adaptive augmentation (gan_lab/ada.py): a child module only when on, so its buffers
        # (p, the sign sums) are in the checkpoints of ADA runs and nowhere else.
        ada = dict(ada or {})
        self.ada = AdaptiveAugment(**ada) if ada.pop("enabled", False) else None
        # Conditional runs only: an unconditional D has no class head (train.build), no loss.
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
        # The epoch's running sums of STAT_KEYS (weighted by batch size) and the images counted.
        self._stat_sum: torch.Tensor | None = None
        self._stat_n = 0

    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        if self.ada is not None and dm is not None:  # speed_images=auto scales with the set
            self.ada.resolve_speed(len(dm.images))
        # Here, not in on_fit_start: DDP must see the final layout when it wraps the module.
        path, why = self._choose_fast_path()
        log.info("fast path: %s — %s", path.describe(), why)
        generators = [self.generator] + ([self.generator_ema.module] if self.generator_ema else [])
        fast_path.apply(path, generators, self.discriminator)
        self.fast_path = path
        self.memory_format = torch.channels_last if path.channels_last else torch.contiguous_format

    def use_stored_fast_path(self, stored: dict) -> None:
        """A resumed run keeps the path it ran on (a cache entry may have changed since): layout,
        fusion and compilation change the rounding, so they are part of a bit-exact resume."""
        self._stored_fast_path = fast_path.FastPath(**stored)

    def _choose_fast_path(self) -> tuple[fast_path.FastPath, str]:
        if getattr(self, "_stored_fast_path", None) is not None:
            return self._stored_fast_path, "as stored in the checkpoint this run resumes"
        fusable = getattr(self.generator, "can_fuse_upsampling", lambda: False)()
        if self.fast_path_mode == "off":
            cl = bool(self.channels_last)
            co = None if self.compile is True else self.compile
            return fast_path.FastPath(channels_last=cl, compile=co), "trainer.fast_path=off"
        trainer, dm = self.trainer, self.trainer.datamodule
        device = trainer.strategy.root_device
        options = fast_path.candidates(self.channels_last, self.compile, fusable, device)
        b = min(dm.batch_size, len(dm.images))
        probe = fast_path.Probe(
            generator=self.generator,
            discriminator=self.discriminator,
            real=dm.to_model_range(dm.images[:b]).to(device),
            num_classes=len(self.class_ids) if self.conditional else 0,
            latent_dim=self.generator.latent_dim,
            bf16=str(trainer.precision).startswith("bf16"),
            penalty=self.gp_weight > 0,
        )
        planned = fast_path.resolve_planned_steps(
            len(dm.images), dm.batch_size, trainer.max_epochs or 1, trainer.limit_train_batches
        )
        timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
        # DDP ranks must agree on the layout: they read the cache but never time.
        return fast_path.choose(
            probe,
            options,
            planned,
            timing=trainer.world_size == 1,
            max_seconds=getattr(timer, "_duration", None),  # trainer.max_time
        )

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

    def G(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return getattr(self, "_g", self.generator)(z, y)

    def D(
        self, x: torch.Tensor, y: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """D's logits on x, through the differentiable augmentation when configured, and its
        class logits when model.class_loss uses them (else None)."""
        d, x = getattr(self, "_d", self.discriminator), diff_augment(x, self.diffaug_ops)
        if self.ada is not None:
            x = self.ada(x)
        return d(x, y, classes=True) if self.class_loss > 0 else (d(x, y), None)

    def critic(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """D's logits as the gradient penalty sees them: through the same augmentation, on the
        eager D (torch.compile cannot differentiate twice; the other passes stay compiled)."""
        x = diff_augment(x, self.diffaug_ops)
        if self.ada is not None:
            x = self.ada(x)
        return self.discriminator(x, y)

    def configure_optimizers(self):
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=self.lr_d, betas=self.betas_d)
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=self.lr_g, betas=self.betas_g)
        return opt_d, opt_g

    def sample_z(self, n: int) -> torch.Tensor:
        return self.noise.sample(n, self.generator.latent_dim, self.device)

    def sample_y(self, n: int) -> torch.Tensor | None:
        """Random labels among the classes trained on (None for an unconditional model)."""
        if not self.conditional:
            return None
        ids = torch.tensor(self.class_ids, device=self.device)
        return ids[torch.randint(len(ids), (n,), device=self.device)]

    def d_targets(self, n_real: int, n_fake: int) -> torch.Tensor:
        """Labels of the concatenated batch: real then fake, with uniform noise in ±label_noise."""
        t = torch.cat(
            [torch.full((n_real,), self.real_label), torch.full((n_fake,), self.fake_label)]
        )
        t = t.to(self.device)
        if self.label_noise > 0:
            t = t + (torch.rand_like(t) * 2 - 1) * self.label_noise
        return t.clamp(0.0, 1.0)  # targets are probabilities

    def training_step(self, batch, batch_idx):
        real, labels = batch
        real = real.contiguous(memory_format=self.memory_format)
        b = real.shape[0]
        # Conditional: fakes are asked for the real batch's classes, so both halves match in labels.
        y = labels if self.conditional else None
        y2 = torch.cat([y, y]) if self.conditional else None
        opt_d, opt_g = self.optimizers()

        # Discriminator phase: real (1) + fresh fakes (0) in one batch; G untouched (no graph).
        for _ in range(self.d_steps):
            self._keep_buffers()
            with torch.no_grad():
                fake = self.G(self.sample_z(b), y)
            with self.toggled_optimizer(opt_d):
                batch_x = torch.cat([real, fake.to(real.dtype)]).requires_grad_(self.r1_gamma > 0)
                logits, classes = self.D(batch_x, y2)
                d_loss = self.loss.d_loss(logits, self.d_targets(b, b))
                if classes is not None:  # the auxiliary classifier learns from the reals only
                    d_loss = d_loss + self.class_loss * F.cross_entropy(classes[:b].float(), y)
                if self.r1_gamma > 0:  # R1 (Mescheder et al. 2018): penalise D's gradient on reals
                    (grad,) = torch.autograd.grad(
                        logits[:b].float().sum(), batch_x, create_graph=True
                    )
                    r1 = grad[:b].float().pow(2).flatten(1).sum(1).mean()
                    d_loss = d_loss + 0.5 * self.r1_gamma * r1
                if self.gp_weight > 0:  # WGAN-GP (Gulrajani et al. 2017): D near 1-Lipschitz
                    gp = gradient_penalty(lambda x: self.critic(x, y), real, fake)
                    d_loss = d_loss + self.gp_weight * gp
                if self.ada is not None:  # ADA's overfitting signal: sign(D) on the reals
                    self.ada.observe(logits[:b])
                opt_d.zero_grad(set_to_none=True)
                if self._finite(d_loss, "D"):
                    self.manual_backward(d_loss)
                    opt_d.step()

        # Generator phase: new fakes labelled "real", no noise; D frozen (no D gradients at all).
        # With g_batch="mixed" D sees real+fake as in its own phase, but the loss uses only the
        # fakes: a BatchNorm D then normalises both phases alike, and G cannot win by merely
        # shifting the statistics of an all-fake batch (003's literal "fake only" = g_batch=fake).
        with self.toggled_optimizer(opt_g):
            self._keep_buffers()
            fake = self.G(self.sample_z(b), y)
            if self.g_batch == "mixed":
                g_logits, classes = self.D(torch.cat([real, fake.to(real.dtype)]), y2)
                g_logits, classes = g_logits[b:], None if classes is None else classes[b:]
            else:
                g_logits, classes = self.D(fake, y)
            g_loss = self.loss.g_loss(g_logits)
            if classes is not None:  # fakes should be classified as the class asked for
                g_loss = g_loss + self.class_loss * F.cross_entropy(classes.float(), y)
            opt_g.zero_grad(set_to_none=True)
            g_applied = self._finite(g_loss, "G")
            if g_applied:
                self.manual_backward(g_loss)
                opt_g.step()
        if self.generator_ema is not None and g_applied:  # a skipped step moves no weight
            self.generator_ema.update_parameters(self.generator)
        if self.ada is not None and (batches_done(self.trainer) + 1) % self.ada.interval == 0:
            # every rank's reals count: ADA's step is the global batch × interval / speed
            images = b * self.trainer.world_size * self.ada.interval
            self.ada.adjust(images, lambda t: self.trainer.strategy.reduce(t, reduce_op="sum"))

        stats = torch.stack(
            [
                d_loss.detach().float(),
                g_loss.detach().float(),
                torch.sigmoid(logits[:b].detach().float()).mean(),
                torch.sigmoid(logits[b:].detach().float()).mean(),
            ]
        )
        self._record(stats, b)
        return dict(zip(STAT_KEYS, stats, strict=True))

    # Logging. Lightning's self.log costs about 0.35 ms per value and step on this CPU, 1.4 ms
    # a step for the four values here (benchmarks/README.md): a few % of a small network's step.
    # So the module keeps the epoch sums itself (one tensor add a step, no device sync) and hands
    # Lightning the step values only on the steps its loggers write (trainer.log_every_n_steps),
    # and the epoch means once, at the epoch's last batch: `train/<name>_step`, `_epoch`.

    def _record(self, stats: torch.Tensor, b: int) -> None:
        self._stat_sum = stats * b if self._stat_sum is None else self._stat_sum + stats * b
        self._stat_n += b
        every = self.trainer.log_every_n_steps
        if every and (batches_done(self.trainer) + 1) % every == 0:
            # This rank's values; with DDP only the epoch means below cover every rank.
            step_values = {step_key(k): v for k, v in zip(STAT_KEYS, stats, strict=True)}
            if self.ada is not None:
                step_values[step_key(ADA_P)] = self.ada.p.clone()
            self.log_dict(step_values, on_step=True, on_epoch=False, prog_bar=True, batch_size=b)

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
