"""recipe=auto: the values a run leaves at ``auto``, chosen from the set, the machine and the budget.

The default config (conf/generator/auto.yaml, conf/discriminator/auto.yaml,
conf/model/default.yaml, conf/data/folder.yaml) leaves the networks' shape, the batch, Adam's
learning rates and betas, the EMA, the augmentation and the class loss at ``auto``. ``resolve``
fills them in before anything is built; every key the user sets — on the command line, in an
experiment preset, with another generator/discriminator preset — is a value, not ``auto``, and
is kept. ``recipe=fixed`` brings back the static defaults (no key left at auto).

Two families, by the set:

- **The built-in set** (the main job, ``python train.py``): the fixed, CPU-fast pair of
  conf/generator/fast.yaml and conf/discriminator/fast.yaml and the fixed procedure of
  conf/model/default.yaml. Its size is what keeps the main job under 10 minutes on a 2-core AVX2
  laptop CPU (docs/getting-started.md); auto changes nothing there.
- **Any other set** (a folder, MNIST): the plain DCGAN recipe that beat every preset on the
  digits in the same wall time (benchmarks/README.md, "recipe=auto against the strongest plain
  loop"): a transposed-convolution G with BatchNorm (conf/generator/dcgan.yaml, z = 64) and a
  spectral-norm D (conf/discriminator/fast.yaml), widths for the resolution (32 filters next to
  the image at ≥ 64 px, 64 below, doubling towards the 4×4 (or 7×7) map, at most 256); hinge
  loss; Adam β = (0, 0.99); an EMA of G with a half-life in images and a ramp-up (StyleGAN2-ADA's
  ema_kimg = 10k × batch/32 and ema_rampup = 0.05: at any time the half-life is at most 5 % of
  the images seen, so the average never lags behind a short run); ADA (gan_lab/core/ada.py) instead of
  fixed flips, zooms and turns: p starts at 0, waits 100 passes over the set, then rises only
  when D overfits, so a short run on thousands of images keeps almost none and a long run on a
  few hundred gets what it needs.
- **The batch and the learning rates from the budget and the machine** (gan_lab/training/budget_rule.py):
  what a short GAN run lacks is updates, not images. A budget that leaves batch 64 fewer than
  ``budget_rule.MIN_UPDATES`` steps — counted from the epochs, or from ``trainer.max_time`` at step
  times measured when the run starts — trains with batch 16 and Adam lr 4e-4 (G) / 5e-4 (D), the
  winner of an hour of `gan-lab tune` on the digits at 10 minutes of one core
  (benchmarks/README.md, "gan-lab tune"), rounded; a longer one with batch 64 and the plain
  loop's 2e-4. Either way the set's size caps the batch (32 below 1,024 images, 16 below 256: an
  epoch keeps at least ~8 steps).

The machine enters through ``trainer.precision=auto`` (bf16 where the CPU/GPU runs it natively),
``trainer.fast_path=auto`` (the fastest measured layout) and the step times above; the budget
through the batch, the EMA's ramp-up and ADA's controller, which both scale with the images the
run actually sees. One log line says what was chosen and why; run.json and the report show it.
"""

import logging
import math

from omegaconf import DictConfig, OmegaConf, open_dict

from gan_lab.config import CONF_DIR, registry
from gan_lab.config.schema import RECIPE_KEYS
from gan_lab.core.ema import HALF_LIFE
from gan_lab.runs import layout
from gan_lab.training.budget_rule import LONG_LR, SHORT_BATCH, SHORT_LR, budget_batch

log = logging.getLogger(__name__)

AUTO = "auto"
# StyleGAN2-ADA (Karras et al. 2020, train.py): ema_kimg = 10 × batch / 32, ema_rampup = 0.05.
EMA_IMAGES_PER_32, EMA_RAMPUP = 10_000, 0.05
# Folder sets: the plain loop's procedure (benchmarks/raw_dcgan.py).
BETAS = [0.0, 0.99]
WIDEST = 256
# model.g_fakes=auto: new. Reuse makes 7-10 % more steps in the same time, but in 10-minute cells
# of one core on the digits (3 seeds, 28 and 64 px) its mean FD was worse at both sizes: 1.06× new's
# at 28 px, 1.09× at 64 px (benchmarks/README.md, "g_fakes=reuse against new: 10-minute cells").
G_FAKES_AUTO = "new"
G_FAKES_WHY = "new fakes for the G phase (reuse: one G pass, but 1.06-1.09x the FD in 10 minutes)"


def preset(group: str, name: str) -> dict:
    """A preset of conf/<group>/ merged over the presets it builds on (its ``defaults`` list,
    ``_self_`` last unless placed), as data: the single source of the built-in job's values."""
    node = OmegaConf.load(CONF_DIR / group / f"{name}.yaml")
    parents = list(node.pop("defaults", []))
    if "_self_" not in parents:
        parents.append("_self_")
    merged = OmegaConf.create()
    for parent in parents:
        merged = OmegaConf.merge(merged, node if parent == "_self_" else preset(group, parent))
    return OmegaConf.to_container(merged, resolve=False)


def widths(size: int) -> tuple[int, list[int]]:
    """(start side, filters per map from the start map to the last hidden one) for ``size`` px:
    the plain loop's 256, 128, 64, 32 at 64 px and 128, 64 at 28 px."""
    start = 7 if size % 7 == 0 else 4
    stages = max(1, round(math.log2(size / start)))
    narrow = 32 if size >= 64 else 64
    return start, [min(WIDEST, narrow * 2 ** (stages - 1 - i)) for i in range(stages)]


def batch_for(num_images: int) -> int:
    """The set's cap on the batch: an epoch keeps at least ~8 steps."""
    return 64 if num_images >= 1024 else 32 if num_images >= 256 else 16


def budget(cfg: DictConfig) -> str:
    """The run's limits as the log line names them: whichever of them are set."""
    t = cfg.trainer
    epochs = t.get("max_epochs")
    limits = [f"{epochs} epoch{'s' * (epochs != 1)}"] if epochs not in (None, -1) else []
    max_steps, max_time = t.get("max_steps"), t.get("max_time")  # a trainer may lack the keys
    limits += [f"max_steps {max_steps}"] if max_steps not in (None, -1) else []
    limits += [f"max_time {max_time}"] if max_time else []
    return " or ".join(limits) or "no limit"


class Choices:
    """The keys resolve filled in: key → (value, why), in the order chosen."""

    def __init__(self, cfg: DictConfig):
        self.cfg, self.made = cfg, {}

    def fill(self, key: str, value, why: str) -> None:
        """Set ``key`` to ``value`` if the config leaves it at auto."""
        if OmegaConf.select(self.cfg, key, default=None) != AUTO:
            return
        with open_dict(self.cfg):
            OmegaConf.update(self.cfg, key, value, merge=False)
        self.made[key] = (value, why)

    def fill_node(self, node: str, values: dict, why: str) -> None:
        for key, value in values.items():
            self.fill(f"{node}.{key}", value, why)


# recipe=fixed, and the built-in set under recipe=auto: the static values of earlier versions (the
# fast pair comes from its presets, conf/generator/fast.yaml and conf/discriminator/fast.yaml).
FIXED_MODEL = {
    "betas_g": [0.5, 0.999],
    "betas_d": [0.5, 0.999],
    "ema": 0.999,
    "class_loss": 0.0,
    **LONG_LR,
}
FIXED_DATA = {"batch_size": 8, "augment": {"flip": True, "zoom": 0.1, "rotate": 10.0}}  # 003 §5
NO_AUGMENT = {"flip": False, "zoom": 0.0, "rotate": 0.0}


def _fixed(cfg: DictConfig) -> str | None:
    """Why the fixed family applies, or None for the chosen one."""
    if cfg.get("recipe", AUTO) == "fixed":
        return "recipe=fixed"
    if cfg.data.get("source") == "builtin":
        return "the built-in set: the fixed main-job recipe"
    return None


# init=: ADA from the first step instead of after 100 passes. On 50 nines from a generator of the
# digits 0–8 (3 minutes, one core) FD fell from 1.55/1.63 to 1.21/1.53 (seeds 0/1); a quarter of
# the learning rates raised it to 4.3/6.0; the EMA restarts its ramp (init_ema). Measured in
# benchmarks/README.md, "Fine-tuning: a few nines from a generator of the other digits".
FINE_TUNE_ADA_WHY = "init=: the source's D overfits a few images at once, so ADA from the start"
# init=: FreezeD on D's first 2 blocks. On 50 nines at 64 px (3 minutes, 3 seeds) fine-tuning all
# of D fell apart (FD 5.9 / 9.2 / 9.9, worse than from nothing on 2 seeds), with the first 2 blocks
# kept 2.7 / 2.6 / 5.2; at 32 px the two were alike (1.94 against 1.82). At least the head and one
# conv block still train (a shallower D freezes fewer). benchmarks/README.md, "The same study at 64 px".
FINE_TUNE_FREEZE_D = 2
# ADA's target for r_t = E[sign(D(x_real))]: p rises while more than (1 + target) / 2 of the reals
# get a positive D output. For init=, 0.2 (60 %): the source's D stays below ADA's 0.6 (80 %) on a
# few images, so p stayed under 0.06 — no augmentation — while its G collapsed onto a few of them.
# On 50 nines at 64 px (3 minutes, 3 seeds) FD 2.40 / 2.15 / 3.47 against 2.61 / 2.94 / 4.50
# (0.80×); at 32 px (3,000 steps) 1.52 against 1.55, within the seeds' spread.
# benchmarks/README.md, "ADA's target for a fine-tune".
ADA_TARGET, FINE_TUNE_ADA_TARGET = 0.6, 0.2
FINE_TUNE_TARGET_WHY = (
    "init=: the source's D is sure of a few images without passing ADA's 0.6, so p would stay ~0"
)
# init=: after each G update, G moves 0.1 % of the way back to the source G's weights
# (model.anchor_g; L2-SP, Li et al. 2018, as a decay towards the source), from 64 px to under 128. On
# 50 nines at 64 px (3 minutes, 3 seeds) FD 1.73 / 1.74 / 3.08 against 2.11 / 2.25 / 4.14 without
# it; 1e-2 held G too close to the source's digits (FD 14). At 32 px, where the fine-tune without
# it is near the floor of copying the 50 nines, it held G back: 1.57 / 1.53 / 2.20 against 1.17 /
# 1.46 / 2.05. Three more seeds at 64 px: 2.93 / 1.55 / 1.40 against 2.68 / 1.63 / 2.36. At 128 px
# (3 minutes: ~700 steps) the fine-tune had not drifted yet, and the pull did not help: 0.88 / 0.72
# / 0.88 against 0.77 / 0.53 / 0.94.
# benchmarks/README.md, "Pulling G back to the source, built".
FINE_TUNE_ANCHOR_G, ANCHOR_SIZES = 1e-3, range(64, 128)
FINE_TUNE_ANCHOR_WHY = (
    "init=: G moves 0.1 % of the way back to the source's weights a step, so a few images "
    "cannot pull it far from the variety the source learnt"
)
SMALL_ANCHOR_WHY = f"under {ANCHOR_SIZES.start} px: the fine-tune did not collapse there, and the pull held it back"
LARGE_ANCHOR_WHY = (
    f"{ANCHOR_SIZES.stop} px or more: the pull did not help a 3-minute fine-tune at "
    f"{ANCHOR_SIZES.stop} px"
)


def fine_tuning(cfg: DictConfig) -> bool:
    """init= (gan_lab/training/finetune.py): the networks are the source's. Its stored settings
    hold no auto, so nothing here replaces them; the procedure's autos (batch, learning rates,
    betas, EMA, ADA, augmentation) are chosen by the same rules as for a run from nothing, but
    for ADA's start (FINE_TUNE_ADA_WHY): measured, the same rates and a restarted EMA ramp won."""
    return cfg.get("init") is not None


def resolve_before_data(cfg: DictConfig) -> dict:
    """What the data module needs before it loads: its augmentation. recipe=auto: off, since ADA
    augments what D sees instead (flips and turns of the reals would also leak into the samples
    of sets that are not mirror-symmetric, e.g. digits); recipe=fixed: 003's flips, zoom, turns."""
    choices = Choices(cfg)
    fixed = _fixed(cfg)
    augment = FIXED_DATA["augment"] if fixed else NO_AUGMENT
    choices.fill_node("data.augment", augment, fixed or "ADA augments instead (model.ada)")
    return choices.made


def data_to_build(cfg: DictConfig) -> tuple[DictConfig, dict]:
    """cfg.data ready to build the data module before the set is loaded: its augmentation chosen
    (resolve_before_data), a batch still at auto stood in for by 1 (resolve sets it once the
    set's size is known; nothing reads it before the first batch)."""
    made = resolve_before_data(cfg)
    data = cfg.data.copy()
    if data.get("batch_size") == AUTO:
        with open_dict(data):
            data.batch_size = 1
    return data, made


def resolve(cfg: DictConfig, num_images: int, size: int) -> dict:
    """Fill every ``auto`` of the networks, the batch and the procedure from the loaded set;
    returns key → (value, why)."""
    choices = Choices(cfg)
    fixed = _fixed(cfg)
    if fixed:
        choices.fill_node("generator", preset("generator", "fast"), fixed)
        choices.fill_node("discriminator", preset("discriminator", "fast"), fixed)
        choices.fill_node("model", FIXED_MODEL, fixed)
        choices.fill("model.ada.enabled", False, fixed)
        choices.fill("model.ada.target", ADA_TARGET, fixed)
        choices.fill("data.batch_size", FIXED_DATA["batch_size"], fixed)
    else:
        start, filters = widths(size)
        why = f"DCGAN G / spectral-norm D for {size} px"
        g = {**preset("generator", "dcgan"), "latent_dim": 64, "bias": True, "init": "default"}
        g.update(base_size=size, start_size=start, project_channels=filters[0])
        g.update(channels=filters[1:] or [filters[0]], conditioning="batchnorm")
        d = {**preset("discriminator", "fast"), "base_size": size, "channels": filters[::-1]}
        choices.fill_node("generator", g, why)
        choices.fill_node("discriminator", d, why)
        if OmegaConf.select(cfg, "data.batch_size") == AUTO:
            by_budget, why_budget = budget_batch(cfg, num_images, size)
            cap = batch_for(num_images)
            if cap < by_budget:
                why_budget += f"; {num_images} images cap it at {cap}"
            choices.fill("data.batch_size", min(by_budget, cap), why_budget)
            lr = SHORT_LR if by_budget == SHORT_BATCH else LONG_LR
            lr_why = (
                f"the tune study's rates for batch {SHORT_BATCH} on a short budget"
                if by_budget == SHORT_BATCH
                else "the plain loop's rates"
            )
        else:
            lr, lr_why = LONG_LR, "the plain loop's rates (the batch is set)"
        choices.fill_node("model", lr, lr_why)
        for key in ("betas_g", "betas_d"):
            choices.fill(f"model.{key}", BETAS, "the plain loop's Adam (β1 = 0)")
        choices.fill("model.ema", HALF_LIFE, "a half-life in images with a ramp-up")
        choices.fill("model.ada.enabled", True, f"{num_images} images: p follows D's overfitting")
        if fine_tuning(cfg):  # the source's D knows the domain: it overfits a few images at once
            choices.fill("model.ada.start_images", 0, FINE_TUNE_ADA_WHY)
            choices.fill("model.ada.target", FINE_TUNE_ADA_TARGET, FINE_TUNE_TARGET_WHY)
        else:
            choices.fill("model.ada.target", ADA_TARGET, "ADA's own (Karras et al. 2020)")
        conditional = bool(cfg.model.get("conditional"))
        choices.fill("model.class_loss", 1.0 if conditional else 0.0, "AC-GAN when conditional")
    # The G phase's fakes: new (design §4's second G pass) in both families: reuse (one G pass,
    # 10-14 % less of a batch-16 step) trained worse per 10 minutes (G_FAKES_AUTO); in the log.
    choices.fill("model.g_fakes", G_FAKES_AUTO, G_FAKES_WHY)
    choices.fill("model.freeze_d", *frozen_blocks(cfg, fixed))
    choices.fill("model.anchor_g", *anchor(cfg, fixed, size))
    batch = int(cfg.data.batch_size)
    images = EMA_IMAGES_PER_32 * batch // 32
    choices.fill("model.ema_images", images, f"10k images × batch {batch}/32")
    return choices.made


def frozen_blocks(cfg: DictConfig, fixed: str | None) -> tuple[int, str]:
    """model.freeze_d=auto: FINE_TUNE_FREEZE_D of the source D's blocks for a fine-tune under
    recipe=auto, leaving at least two to train (counted on the D the run builds); 0 otherwise."""
    if fixed or not fine_tuning(cfg):
        return 0, fixed or "a run from nothing: no trained blocks to keep"
    blocks = len(registry.build("discriminator", cfg.discriminator).stages())
    k = max(0, min(FINE_TUNE_FREEZE_D, blocks - 2))
    if not k:
        return 0, f"init=: D has {blocks} blocks, all train (FreezeD leaves at least two)"
    return k, (
        f"init=: FreezeD, D's first {k} of {blocks} blocks keep the source's weights (fine-tuning "
        "all of D was unstable on 50 images at 64 px)"
    )


def anchor(cfg: DictConfig, fixed: str | None, size: int) -> tuple[float, str]:
    """model.anchor_g=auto: FINE_TUNE_ANCHOR_G for a fine-tune under recipe=auto of images of
    ANCHOR_SIZES (64 px to under 128, where it was measured to help); 0 otherwise."""
    if fixed or not fine_tuning(cfg):
        return 0.0, fixed or "a run from nothing: no source to pull to"
    if size not in ANCHOR_SIZES:
        return 0.0, SMALL_ANCHOR_WHY if size < ANCHOR_SIZES.start else LARGE_ANCHOR_WHY
    return FINE_TUNE_ANCHOR_G, FINE_TUNE_ANCHOR_WHY


def left_at_auto(node, prefix: str = "") -> list[str]:
    """The keys of a recipe's domain (gan_lab.config.schema.RECIPE_KEYS) still at auto."""
    left = []
    for key, value in node.items() if isinstance(node, dict | DictConfig) else ():
        path = f"{prefix}{key}"
        if isinstance(value, dict | DictConfig):
            left += left_at_auto(value, path + ".")
        elif value == AUTO and path.startswith(RECIPE_KEYS):
            left.append(path)
    return left


def record(made: dict) -> dict:
    """What run.json and the report show: key → {value, why}."""
    return {key: {"value": value, "why": why} for key, (value, why) in made.items()}


def describe(made: dict, cfg: DictConfig, num_images: int) -> str:
    """The one log line: the set, the budget, and what the run trains with."""
    g, d, m, aug = cfg.generator, cfg.discriminator, cfg.model, cfg.data.augment
    ema = (
        f"EMA half-life {m.ema_images} images (ramp-up {m.ema_rampup})"
        if m.ema == HALF_LIFE
        else f"EMA decay {m.ema}"
    )
    augment = f"flip {aug.flip}, zoom {aug.zoom}, turns ±{aug.rotate}°"
    fakes = (
        "G phase on the D phase's fakes" if m.get("g_fakes") == "reuse" else "G phase on new fakes"
    )
    fakes += f" (g_fakes={m.get('g_fakes')})"
    nets = "the source's networks (init=): " if fine_tuning(cfg) else ""
    ada = "off" if not m.ada.enabled else "on" + " from the first step" * (m.ada.start_images == 0)
    ada += f" (target {m.ada.target})" * bool(m.ada.enabled)
    return (
        f"recipe={cfg.get('recipe', AUTO)} for {num_images} images of {cfg.data.image_size} px, "
        f"{budget(cfg)}: {nets}G {g.project_channels}×{g.start_size}² → {list(g.channels)} "
        f"({g.upsample}), D {list(d.channels)}, batch {cfg.data.batch_size}, Adam lr "
        f"{m.lr_g:g} / {m.lr_d:g} β {list(m.betas_g)}, {ema}, ADA {ada}, {augment}, "
        f"{fakes} — "
        f"{len(made)} keys were left at auto ({layout.RUN_INFO}'s config.chosen says why each); "
        "every key you set is kept"
    )
