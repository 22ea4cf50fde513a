"""The training step of design §4 — one function, ``step``, for everything that runs it.

The LightningModule (module.py) runs it on the run's networks with Lightning's manual
optimisation; the fast path (fast_path.py) times it on copies of them with plain torch
optimisers (its plain_optimisation). Both hand in the same three things: the networks as the
step calls them (``Networks``), the procedure from conf/model/ (``Procedure``) and how a phase's
loss becomes a weight update (``Optimisation``). So the step that is timed is the step that
trains — its loss, R1 or gradient penalty, augmentation, class loss and G batch — and cannot
drift from it.

The order of the random draws (noise, augmentation, label noise, the penalty's interpolation) is
part of the step: a run resumed from a checkpoint repeats it bit for bit.
"""

import functools
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gan_lab.core.ada import AdaptiveAugment
from gan_lab.core.diffaug import diff_augment
from gan_lab.core.losses import GANLoss, gradient_penalty
from gan_lab.core.noise import Noise

# Devices where Adam's update runs as one fused kernel (torch ≥ 2.4 has CPU and CUDA). Elsewhere
# torch's default: on a CPU that default is a Python loop over the parameter tensors.
FUSED_ADAM = ("cpu", "cuda")


def adam(params: Iterable[torch.Tensor], lr: float, betas=(0.9, 0.999)) -> torch.optim.Adam:
    """Adam as every gan-lab optimiser is built — the run's (module.configure_optimizers), the
    fast path's and the budget rule's timings — fused where the parameters' device has it.
    The same update as torch's default Adam up to rounding; the digits loop's 64-px step is ~10 %
    faster with it on one core of an AVX-512 BF16 EPYC, its 28-px step about the same
    (benchmarks/README.md, "Adam: fused against torch's default")."""
    params = list(params)
    fused = bool(params) and all(
        p.device.type in FUSED_ADAM and p.is_floating_point() for p in params
    )
    betas = tuple(float(b) for b in betas)  # torch refuses (0, 0.99): an int beside a float
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=fused or None)


@torch.no_grad()
def pull_back(live: list[torch.Tensor], source: list[torch.Tensor], share: float) -> None:
    """model.anchor_g: every weight moves ``share`` of the way back to the source's,
    θ ← θ + share · (θ_source − θ). After each G update this is L2-SP (Li et al. 2018, "Explicit
    inductive bias for transfer learning": a penalty on the distance to the pre-trained weights)
    applied as a decoupled decay towards the source rather than through Adam's gradient, so its
    strength does not depend on Adam's per-weight scaling."""
    torch._foreach_lerp_(live, source, share)


@functools.cache
def labels(
    n_real: int, n_fake: int, real: float, fake: float, device: torch.device
) -> torch.Tensor:
    """D's targets before label noise, made once per batch size (read-only: callers add to it).
    Float whatever the labels came as: 1 and 1.0 are one cache key (model.real_label=1 from the
    command line is an int), and an int64 tensor cached for one run would be another's."""
    return torch.cat([torch.full((n_real,), float(real)), torch.full((n_fake,), float(fake))]).to(
        device
    )


@dataclass
class Procedure:
    """What the step does besides the networks (conf/model/; design §4, §4.1, §4.2)."""

    loss: GANLoss
    d_steps: int  # D updates per G update, on the same real batch
    label_noise: float  # 003 §7.4
    real_label: float
    fake_label: float
    g_batch: str  # "mixed" or "fake" (003 §8.6; "auto" is resolved by the module)
    # "new": the G phase draws new fakes (design §4, 003 §7: a second G pass a step); "reuse": it
    # scores the last D phase's fakes again (one G pass a step, as a plain loop does)
    g_fakes: str
    r1_gamma: float  # 0 = no R1
    gp_weight: float  # 0 = no gradient penalty (only model.loss=wgan_gp sets it)
    class_loss: float  # 0 = no auxiliary classifier loss
    diffaug_ops: list  # DiffAugment's ops, always applied
    ada: AdaptiveAugment | None  # the module's own child: its p and sums are checkpointed
    # model.anchor_g: the share of the way G moves back to its source after each G update
    # (pull_back above); 0 = off, every run but a fine-tune
    anchor_g: float = 0.0

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        """Everything D sees goes through this: DiffAugment, then ADA."""
        x = diff_augment(x, self.diffaug_ops)
        return x if self.ada is None else self.ada(x)

    def d_targets(self, n_real: int, n_fake: int, device: torch.device) -> torch.Tensor:
        """Labels of the concatenated batch: real then fake, with uniform noise in ±label_noise."""
        t = labels(n_real, n_fake, self.real_label, self.fake_label, device)
        if self.label_noise > 0:  # (in place on a new tensor: the same numbers, fewer of them made)
            return t.add(torch.rand_like(t).mul_(2).sub_(1).mul_(self.label_noise)).clamp_(0.0, 1.0)
        return t.clamp(0.0, 1.0)  # targets are probabilities


@dataclass
class Networks:
    """The networks as the step calls them: ``G`` and ``D`` may be compiled; the penalties
    differentiate twice and so use the eager ``discriminator`` (torch.compile cannot)."""

    G: Callable[..., torch.Tensor]
    D: Callable[..., torch.Tensor]
    generator: nn.Module  # eager: the EMA averages its weights
    discriminator: nn.Module  # eager: the gradient penalty's D
    ema: nn.Module | None  # an AveragedModel of the generator, or None
    noise: Noise  # the latent distribution: the step draws its z on the real batch's device
    # model.anchor_g: G's trained weights and its frozen source's (models.freeze.anchored), or None
    anchor: tuple[list[torch.Tensor], list[torch.Tensor]] | None = None

    def sample_z(self, n: int, device: torch.device) -> torch.Tensor:
        return self.noise.sample(n, self.generator.latent_dim, device)


@dataclass
class Optimisation:
    """How the caller turns a phase's loss into a weight update ("D" or "G")."""

    # only that phase's network takes gradients inside it (Lightning's toggled_optimizer)
    phase: Callable[[str], AbstractContextManager]
    # before each phase: what a skipped phase puts back (the module's NaN guard), or nothing
    keep: Callable[[], None]
    # zero the grads, backward, optimiser step; False when the phase was skipped (NaN/Inf loss)
    update: Callable[[str, torch.Tensor], bool]


def toggled(
    optimisers: dict[str, torch.optim.Optimizer],
) -> Callable[[str], AbstractContextManager]:
    """Optimisation.phase for these optimisers: inside phase ``name`` the weights of the other
    optimisers take no gradients, and get back what they had after it — what Lightning's
    toggled_optimizer does, without the dict of every weight it builds at each call. The lists are
    found here once: build it again when the optimisers' parameter groups change."""
    own = {
        name: {id(p) for g in opt.param_groups for p in g["params"]}
        for name, opt in optimisers.items()
    }
    others = {
        name: [
            p
            for other, opt in optimisers.items()
            if other != name
            for g in opt.param_groups
            for p in g["params"]
            if id(p) not in own[name]
        ]
        for name in optimisers
    }

    @contextmanager
    def phase(name: str):
        frozen = others[name]
        was = [p.requires_grad for p in frozen]
        for p in frozen:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p, flag in zip(frozen, was, strict=True):
                p.requires_grad_(flag)

    return phase


def discriminate(
    nets: Networks, proc: Procedure, x: torch.Tensor, y: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """D's logits on x through the augmentation, and its class logits when the class loss uses
    them (else None)."""
    x = proc.augment(x)
    return nets.D(x, y, classes=True) if proc.class_loss > 0 else (nets.D(x, y), None)


@dataclass
class Outcome:
    d_loss: torch.Tensor  # the last D phase's
    g_loss: torch.Tensor
    logits: torch.Tensor  # D's logits on real + fake in the last D phase
    g_applied: bool

    def stats(self, n_real: int) -> torch.Tensor:
        """The step's statistics (gan_lab.runs.keys.STAT_KEYS): D's and G's losses, and D's mean
        probability on the reals and on the fakes."""
        p = torch.sigmoid(self.logits.detach().float())
        losses = torch.stack([self.d_loss.detach(), self.g_loss.detach()]).float()
        if len(p) == 2 * n_real:  # the step's batch: as many fakes as reals, one mean a row
            return torch.cat([losses, p.view(2, n_real).mean(1)])
        return torch.cat([losses, p[:n_real].mean()[None], p[n_real:].mean()[None]])


def step(
    nets: Networks,
    proc: Procedure,
    real: torch.Tensor,
    y: torch.Tensor | None,
    opt: Optimisation,
) -> Outcome:
    """One batch of design §4: ``d_steps`` D phases, then one G phase, then (a fine-tune with
    model.anchor_g) G's pull back towards its source, then the EMA of G.

    ``y`` is the real batch's classes (conditional runs) or None: fakes are asked for the same
    classes, so both halves of D's batch match in labels.
    """
    b = real.shape[0]
    y2 = None if y is None else torch.cat([y, y])

    # Discriminator phase: real (1) + fresh fakes (0) in one batch; G untouched (no graph), except
    # with g_fakes="reuse" on the last D phase: its fakes keep G's graph for the G phase, and D's
    # own loss sees them detached (D's update never reaches G).
    reuse = proc.g_fakes == "reuse"
    for i in range(proc.d_steps):
        opt.keep()
        keep_graph = reuse and i == proc.d_steps - 1
        with nullcontext() if keep_graph else torch.no_grad():
            g_fake = nets.G(nets.sample_z(b, real.device), y)
        fake = g_fake.detach()
        with opt.phase("D"):
            batch_x = torch.cat([real, fake.to(real.dtype)]).requires_grad_(proc.r1_gamma > 0)
            logits, classes = discriminate(nets, proc, batch_x, y2)
            d_loss = proc.loss.d_loss(logits, proc.d_targets(b, b, real.device))
            if classes is not None:  # the auxiliary classifier learns from the reals only
                d_loss = d_loss + proc.class_loss * F.cross_entropy(classes[:b].float(), y)
            if proc.r1_gamma > 0:  # R1 (Mescheder et al. 2018): penalise D's gradient on reals
                (grad,) = torch.autograd.grad(logits[:b].float().sum(), batch_x, create_graph=True)
                r1 = grad[:b].float().pow(2).flatten(1).sum(1).mean()
                d_loss = d_loss + 0.5 * proc.r1_gamma * r1
            if proc.gp_weight > 0:  # WGAN-GP (Gulrajani et al. 2017): D near 1-Lipschitz
                # on the eager D, through the same augmentation (torch.compile cannot
                # differentiate twice; the other passes stay compiled)
                gp = gradient_penalty(lambda x: nets.discriminator(proc.augment(x), y), real, fake)
                d_loss = d_loss + proc.gp_weight * gp
            if proc.ada is not None:  # ADA's overfitting signal: sign(D) on the reals
                proc.ada.observe(logits[:b])
            opt.update("D", d_loss)
            if i < proc.d_steps - 1:
                # D runs again in this step. Under autocast (Lightning's bf16/16-mixed: one region
                # around the whole step) the low-precision copies of D's weights cast in this
                # phase are cached till the region ends: stale now, so they go.
                torch.clear_autocast_cache()

    # Generator phase: new fakes (or, with g_fakes="reuse", the last D phase's, with their graph)
    # labelled "real", no noise; D frozen (no D gradients at all).
    # With g_batch="mixed" D sees real+fake as in its own phase, but the loss uses only the
    # fakes: a BatchNorm D then normalises both phases alike, and G cannot win by merely
    # shifting the statistics of an all-fake batch (003's literal "fake only" = g_batch=fake).
    with opt.phase("G"):
        opt.keep()
        fake = g_fake if reuse else nets.G(nets.sample_z(b, real.device), y)
        if proc.g_batch == "mixed":
            g_logits, classes = discriminate(nets, proc, torch.cat([real, fake.to(real.dtype)]), y2)
            g_logits, classes = g_logits[b:], None if classes is None else classes[b:]
        else:
            g_logits, classes = discriminate(nets, proc, fake, y)
        g_loss = proc.loss.g_loss(g_logits)
        if classes is not None:  # fakes should be classified as the class asked for
            g_loss = g_loss + proc.class_loss * F.cross_entropy(classes.float(), y)
        g_applied = opt.update("G", g_loss)
    if nets.anchor is not None and proc.anchor_g > 0 and g_applied:  # back towards the source
        pull_back(*nets.anchor, proc.anchor_g)
    if nets.ema is not None and g_applied:  # a skipped step moves no weight
        nets.ema.update_parameters(nets.generator)
    return Outcome(d_loss, g_loss, logits, g_applied)
