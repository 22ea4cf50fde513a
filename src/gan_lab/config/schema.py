"""Every user-facing key: its type, range or choices, and what it does, in one table.

The command line (train.py and every ``gan-lab <command>``) and the configs stored
in checkpoints are checked against the same table (gan_lab.config.validate); nothing else re-checks a
value. Keys are dotted paths; a key whose meaning depends on the preset (generator.*,
discriminator.*, noise.*) is described once for every preset that has it. The choices come from
the code that acts on them, so a new loss or activation needs no second edit here.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

from gan_lab.core.diffaug import OPS
from gan_lab.core.losses import LOSSES
from gan_lab.data.decoded import parse_size
from gan_lab.errors import UserError
from gan_lab.models.discriminator import CONDITIONINGS as D_CONDITIONINGS
from gan_lab.models.discriminator import HEADS
from gan_lab.models.generator import CONDITIONINGS as G_CONDITIONINGS
from gan_lab.models.generator import PROJECTIONS, UPSAMPLINGS
from gan_lab.models.init import SCHEMES
from gan_lab.models.layers import ACTIVATIONS, OUTPUT_ACTIVATIONS
from gan_lab.runs import layout

# Upper bounds of sizes and counts (design §9): generous for real use (StyleGAN's widest layer has
# 512 filters, its latent 512 values, FID's usual sample 50,000 images), small enough that a value
# typed by mistake or stored in someone else's checkpoint cannot ask for absurd memory (one
# generator.channels=10**9 would be a 10**18-weight convolution). A key's rule states its bound.
MAX_IMAGE_SIZE = 1024  # px
MAX_WIDTH = 4096  # filters of one layer, latent and embedding sizes
MAX_BLOCKS = 16  # entries of a channel/stride list: 2**10 px from 1 px takes 10
MAX_KERNEL = 15
MAX_CLASSES = 10_000
MAX_BATCH = 8192  # images per step or forward pass
MAX_IMAGES = 1_000_000  # images drawn, generated or scored at once
MAX_GRID = 4096  # images in a grid, a preview or the fixed noise
MAX_WEIGHTS = 500_000_000  # per network (2 GB of float32); StyleGAN2's 1024 px G has 30 million

PRUNERS = ("hyperband", "halving", "median", "none")  # gan_lab.tune.study builds them by name
SAMPLERS = ("tpe", "random")


@dataclass(frozen=True)
class Rule:
    """What one key may hold: ``test`` says whether a value fits, ``what`` says it in words."""

    test: Callable[[object], bool]
    what: str
    meaning: str
    null: bool = False  # null (YAML's ~) is a valid value: "off", "none" or "the default"

    def ok(self, value) -> bool:
        if value is None:
            return self.null
        try:
            return bool(self.test(value))
        except (TypeError, ValueError):
            return False


def shown(value) -> str:
    """A value as it is typed on the command line (true, null, 0.5, abc)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "[" + ",".join(shown(v) for v in value) + "]"
    return str(value)


def _is_whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v) -> bool:
    """A finite int or float; never a bool (YAML's true is not 1)."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _same(v, option) -> bool:
    """Equal and of the same type: YAML's true is not 1, and 1 is not "1"."""
    return type(v) is type(option) and v == option


def whole(meaning: str, low: int = 0, high: int | None = None, null: bool = False) -> Rule:
    top = "" if high is None else f" and ≤ {high}"
    return Rule(
        lambda v: _is_whole(v) and v >= low and (high is None or v <= high),
        f"a whole number ≥ {low}{top}",
        meaning,
        null,
    )


def number(
    meaning: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    null: bool = False,
) -> Rule:
    def test(v) -> bool:
        if not is_number(v):
            return False
        above = low is None or (v > low if low_open else v >= low)
        below = high is None or (v < high if high_open else v <= high)
        return above and below

    if low is not None and high is not None:
        what = f"a number in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    elif low is not None:
        what = f"a number {'>' if low_open else '≥'} {low}"
    else:
        what = "a number"
    return Rule(test, what, meaning, null)


def flag(meaning: str) -> Rule:
    return Rule(lambda v: isinstance(v, bool), "true or false", meaning)


def choice(meaning: str, options, null: bool = False) -> Rule:
    options = tuple(options)
    words = " | ".join(dict.fromkeys(shown(o) for o in options))
    return Rule(lambda v: any(_same(v, o) for o in options), f"one of {words}", meaning, null)


def text(meaning: str, null: bool = False) -> Rule:
    return Rule(lambda v: isinstance(v, str), "a text", meaning, null)


def path(meaning: str, null: bool = True) -> Rule:
    return Rule(lambda v: isinstance(v, str) and v != "", "a file or folder path", meaning, null)


def _size(v) -> bool:
    try:
        return parse_size(v) >= 0
    except (UserError, ValueError):
        return False


def _duration(v) -> bool:
    from gan_lab.config.durations import max_time_seconds

    try:
        return not isinstance(v, bool) and max_time_seconds(v) > 0
    except UserError:
        return False


def size(meaning: str) -> Rule:
    return Rule(
        lambda v: not isinstance(v, bool) and _size(v),
        "a size, e.g. 4GB, 512MB or 1e9 (bytes)",
        meaning,
        null=True,
    )


def wholes(
    meaning: str,
    low: int = 1,
    null: bool = False,
    example: str = "[64,32,16]",
    high: int | None = None,
    longest: int = MAX_BLOCKS,
) -> Rule:
    top = "" if high is None else f" and ≤ {high}"
    return Rule(
        lambda v: (
            isinstance(v, list | tuple)
            and 0 < len(v) <= longest
            and all(_is_whole(x) and x >= low and (high is None or x <= high) for x in v)
        ),
        f"a list of 1 to {longest} whole numbers ≥ {low}{top}, e.g. {example}",
        meaning,
        null,
    )


def either(meaning: str, *rules: Rule, null: bool = False) -> Rule:
    return Rule(
        lambda v: any(r.ok(v) for r in rules), " or ".join(r.what for r in rules), meaning, null
    )


def target(*names: str) -> Rule:
    return choice("the class this node builds (gan-lab's own; never a stored choice)", names)


BETAS = Rule(
    lambda v: isinstance(v, list | tuple) and len(v) == 2 and all(_number_in_unit(b) for b in v),
    "two numbers in [0, 1), e.g. [0.5, 0.999]",
    "Adam's (β1, β2)",
)


def _number_in_unit(v) -> bool:
    return is_number(v) and 0 <= v < 1


# The mappings of the train config: a stored config must hold a mapping (or null) there, never a
# string (OmegaConf would parse a string as YAML: design §9).
GROUPS = (
    "data",
    "data.augment",
    "data.audit",
    "generator",
    "discriminator",
    "noise",
    "model",
    "model.ada",
    "trainer",
    "trainer.strategy",
    "callbacks",
    "callbacks.samples",
    "callbacks.balance",
    "callbacks.metrics",
    "callbacks.ssim",
    "callbacks.history",
    "callbacks.hparams",
    "callbacks.guard",
    "callbacks.checkpoint",
    "callbacks.report",
    "metrics",
    "logger",
    "logger.tensorboard",
    "paths",
)

# The imbalance watch's actions (callbacks/balance.py) and the NaN/Inf policies (module.py).
BALANCE_ACTIONS = ("warn", "stop", "rollback")
NONFINITE = ("skip", "warn", "rollback", "stop")
COMPILE = (True, False, "auto", "default", "max-autotune-no-cudagraphs", "reduce-overhead")
PRECISIONS = (
    "auto",
    "32-true",
    "bf16-mixed",
    "16-mixed",
    "bf16-true",
    "16-true",
    "64-true",
    "32",
    "16",
    "bf16",
    "64",
    32,
    16,
    64,
)
DATA_SOURCES = ("builtin", "folder", "mnist")

_SIZE = "in px; every network preset adapts its number of blocks to it"
_CONV = "the convolutions' kernel size"
_ACT = "the hidden layers' activation"
_DIR = "the run folder (what this callback writes there is named by gan_lab.runs.layout)"

METRICS = {
    "metrics.every_n_epochs": whole("FID/KID/IS every N epochs and at the end; 0 = off"),
    "metrics.n_samples": whole("generated images per evaluation", low=2, high=MAX_IMAGES),
    "metrics.extractor": text("inception, or an extractor file (gan-lab extractor)"),
    "metrics.inception_weights": path("torch-fidelity's Inception weights; null = the hub cache"),
    "metrics.required": flag("stop at start-up when the extractor cannot be loaded"),
    "metrics.batch_size": whole("images per extractor pass", low=1, high=MAX_BATCH),
    "metrics.seed": whole("noise and real subset: the same at every evaluation"),
    "metrics.ssim_every_n_steps": whole("SSIM every M batches; 0 = off"),
    "metrics.ssim_n_real": whole(
        "training images each sample is compared with", low=1, high=MAX_GRID
    ),
    "metrics.ssim_n_fake": whole("fixed-noise samples averaged", low=1, high=MAX_GRID),
    "metrics.best": text("what gan-lab score ranks checkpoints by, e.g. val/fid"),
}
# The keys of callbacks.metrics (conf/callbacks/default.yaml), each ${metrics.<key>}.
_METRICS_CALLBACK_KEYS = (
    "every_n_epochs",
    "n_samples",
    "extractor",
    "inception_weights",
    "required",
    "batch_size",
    "seed",
)

TRAIN = {
    "seed": whole(
        "seeds torch, numpy and python; the fixed noise follows it; null = random", null=True
    ),
    "ckpt_path": path(
        f"resume from this checkpoint (or {layout.BEST}<run>) into its own run folder"
    ),
    "allow_data_change": flag(
        "resume on a training set that changed since the checkpoint (added, removed, relabelled)"
    ),
    # data
    "data._target_": target("gan_lab.data.GANDataModule", "gan_lab.data.datamodule.GANDataModule"),
    "data.name": text("the set's name (messages, reports)"),
    "data.source": choice("where images come from", DATA_SOURCES),
    "data.root": path("the data folder (data=folder: required)"),
    "data.hint": text("what to do when the data are missing (messages)"),
    "data.image_size": whole(f"training image size {_SIZE}", low=16, high=MAX_IMAGE_SIZE),
    "data.channels": choice("1 (grey), 3 (RGB) or auto (grey when every image is)", (1, 3, "auto")),
    "data.batch_size": whole("real images per step (per device)", low=1, high=MAX_BATCH),
    "data.num_images": whole(
        "how many images to draw (built-in set; 0 = unused elsewhere)", high=MAX_IMAGES
    ),
    "data.seed": whole("the built-in set's drawing seed"),
    "data.classes": Rule(
        lambda v: (
            isinstance(v, list | tuple)
            and 0 < len(v) <= MAX_CLASSES
            and all(isinstance(c, int | str) and not isinstance(c, bool) for c in v)
        ),
        "a list of class names or indices, e.g. [circle,ring] or [0,3]",
        "train on these classes only; null = all",
        null=True,
    ),
    "data.augment.flip": flag("random horizontal flips"),
    "data.augment.zoom": number("zoom in by up to this fraction", 0, 1, high_open=True),
    "data.augment.rotate": number("rotate by up to ± this many degrees", 0, 180),
    "data.audit.min_size": whole(
        "images smaller than this (either side, px) are thumbnails", low=1
    ),
    "data.audit.near_duplicates": choice(
        "near-duplicate pictures: skip (train on one copy) or keep", ("skip", "keep")
    ),
    "data.audit.near_duplicate_distance": number(
        "the largest block difference of the same picture (0.06)", 0, 1, high_open=True
    ),
    "data.audit.max_aspect": number("wider/taller than this is reported", 1),
    "data.audit.max_skipped_share": number("the share of a set the audit may skip (1 = any)", 0, 1),
    "data.cache": flag("keep the decoded set in cache_dir: a second run starts in seconds"),
    "data.cache_dir": path("where decoded sets are kept; null = $XDG_CACHE_HOME/gan-lab"),
    "data.memory_budget": size("a decoded set larger than this is memory-mapped and streamed"),
    "data.audit_report": path("the audit's CSV of skipped or unusual files (in the run folder)"),
    # generator (the union of conf/generator/*.yaml)
    "generator._target_": target("gan_lab.models.Generator", "gan_lab.models.generator.Generator"),
    "generator.latent_dim": whole("size of the latent vector z", low=1, high=MAX_WIDTH),
    "generator.out_channels": choice("image channels (follows data.channels)", (1, 3, "auto")),
    "generator.image_size": whole(
        f"output size {_SIZE} (follows data.image_size)", low=16, high=MAX_IMAGE_SIZE
    ),
    "generator.base_size": whole(
        "the image size the channel list is written for", low=8, high=MAX_IMAGE_SIZE
    ),
    "generator.project": choice("z → first map: linear (003) or convt (DCGAN)", PROJECTIONS),
    "generator.project_channels": whole("channels of the first map", low=1, high=MAX_WIDTH),
    "generator.start_size": whole("side of the first map, px", low=1, high=MAX_IMAGE_SIZE // 2),
    "generator.channels": wholes("filters of the upsampling blocks, first to last", high=MAX_WIDTH),
    "generator.kernel_size": whole(_CONV, low=1, high=MAX_KERNEL),
    "generator.upsample": choice("transposed convolutions or nearest ×2 + conv", UPSAMPLINGS),
    "generator.convs_per_block": whole(
        "convolutions per block (upsample=nearest)", low=1, high=MAX_BLOCKS
    ),
    "generator.batch_norm": flag("BatchNorm after each block"),
    "generator.spectral_norm": flag("spectral normalisation of the weights"),
    "generator.activation_name": choice(_ACT, tuple(ACTIVATIONS)),
    "generator.bias": flag("biases in the convolutions"),
    "generator.out_kernel_size": whole(
        "kernel of the last conv; 0 = the last ×2 layer outputs the image", high=MAX_KERNEL
    ),
    "generator.out_activation": choice(
        "sigmoid → [0, 1], tanh → [-1, 1]; the data follow", tuple(OUTPUT_ACTIVATIONS)
    ),
    "generator.init": choice("weight initialisation", SCHEMES),
    "generator.num_classes": whole(
        "set from the data when model.conditional=true", high=MAX_CLASSES
    ),
    "generator.class_embed_dim": whole(
        "size of the label embedding (conditional only)", low=1, high=MAX_WIDTH
    ),
    "generator.conditioning": choice(
        "concat, or batchnorm: a gain and shift per class too", G_CONDITIONINGS
    ),
    # discriminator (the union of conf/discriminator/*.yaml)
    "discriminator._target_": target(
        "gan_lab.models.Discriminator", "gan_lab.models.discriminator.Discriminator"
    ),
    "discriminator.in_channels": choice("image channels (follows data.channels)", (1, 3, "auto")),
    "discriminator.image_size": whole(
        f"input size {_SIZE} (follows data.image_size)", low=16, high=MAX_IMAGE_SIZE
    ),
    "discriminator.base_size": whole(
        "the image size the channel list is written for", low=8, high=MAX_IMAGE_SIZE
    ),
    "discriminator.channels": wholes(
        "filters of the strided blocks, first to last", high=MAX_WIDTH
    ),
    "discriminator.kernel_size": whole(_CONV, low=1, high=MAX_KERNEL),
    "discriminator.strides": wholes(
        "one stride per block; null = 2 everywhere", null=True, example="[2,2,1,1]", high=MAX_KERNEL
    ),
    "discriminator.paddings": wholes(
        "one padding per block; null = same", low=0, null=True, example="[1,1,0,0]", high=MAX_KERNEL
    ),
    "discriminator.batch_norm": flag("BatchNorm after the convolutions"),
    "discriminator.batch_norm_first": flag("... also after the first one"),
    "discriminator.spectral_norm": flag("spectral normalisation of the weights"),
    "discriminator.activation_name": choice(_ACT, tuple(ACTIVATIONS)),
    "discriminator.bias": flag("biases in the convolutions"),
    "discriminator.dropout": number("dropout before the head", 0, 1, high_open=True),
    "discriminator.head": choice("linear (flatten → Linear) or conv (DCGAN)", HEADS),
    "discriminator.out_features": choice("1 logit, or 2 real/fake classes (004)", (1, 2)),
    "discriminator.init": choice("weight initialisation", SCHEMES),
    "discriminator.num_classes": whole(
        "set from the data when model.conditional=true", high=MAX_CLASSES
    ),
    "discriminator.conditioning": choice(
        "projection or concat (conditional only)", D_CONDITIONINGS
    ),
    "discriminator.class_head": flag("the auxiliary classifier (set from model.class_loss)"),
    "discriminator.class_embed_dim": whole("embedding size for concat", low=1, high=MAX_WIDTH),
    # noise (the union of conf/noise/*.yaml)
    "noise._target_": target(
        *(f"gan_lab.{m}noise.{c}" for m in ("core.", "") for c in ("Normal", "Uniform", "Gamma"))
    ),
    "noise.mean": number("N(mean, std): the mean"),
    "noise.std": number("N(mean, std): the standard deviation", 0, low_open=True),
    "noise.low": number("U(low, high): the lower end"),
    "noise.high": number("U(low, high): the upper end"),
    "noise.shape": number("Γ(k, θ): the shape k", 0, low_open=True),
    "noise.scale": number("Γ(k, θ): the scale θ", 0, low_open=True),
    # model: the training procedure
    "recipe": choice(
        "keys left at auto: chosen from the set, machine and budget (auto), or static (fixed)",
        ("auto", "fixed"),
    ),
    "model.loss": choice("the adversarial loss", tuple(LOSSES)),
    "model.lr_d": number("Adam learning rate of D (0 freezes D)", 0),
    "model.lr_g": number("Adam learning rate of G (0 freezes G)", 0),
    "model.betas_d": BETAS,
    "model.betas_g": BETAS,
    "model.d_steps": whole("D updates per G update", low=1),
    "model.g_batch": choice("what D sees in the G phase", ("mixed", "fake", "auto")),
    "model.label_noise": number(
        "uniform noise in ±value on D's labels; 0 = off", 0, 0.5, high_open=True
    ),
    "model.real_label": number("target of real images in the D phase", 0, 1),
    "model.fake_label": number("target of fakes in the D phase", 0, 1),
    "model.conditional": flag("G and D get the class label"),
    "model.ema": either(
        "the moving average of G: a decay per step (0 = off), or half_life = model.ema_images",
        number("", 0, 1, high_open=True),
        choice("", ("half_life",)),
    ),
    "model.ema_images": whole("model.ema=half_life: the EMA's half-life in images", low=1),
    "model.ema_rampup": number(
        "model.ema=half_life: the half-life is at most this share of the images seen; 0 = off",
        0,
        1,
    ),
    "model.diffaug": Rule(
        lambda v: (
            (isinstance(v, str) and all(n.strip() in OPS for n in v.split(",")))
            or (
                isinstance(v, list | tuple)
                and all(isinstance(n, str) and n.strip() in OPS for n in v)
            )
        ),
        f"a list of {', '.join(OPS)}",
        "differentiable augmentation of everything D sees; null = off",
        null=True,
    ),
    "model.class_loss": number("weight of the auxiliary classifier's loss; 0 = off", 0),
    "model.r1_gamma": number("R1 penalty weight; 0 = off", 0),
    "model.gp_weight": number("model.loss=wgan_gp: weight of the gradient penalty", 0),
    "model.ada.enabled": flag("adaptive augmentation of everything D sees (ADA)"),
    "model.ada.ops": Rule(
        lambda v: (
            isinstance(v, list | tuple)
            and len(v) > 0
            and all(isinstance(n, str) and n.strip() in OPS for n in v)
        ),
        f"a list of {', '.join(OPS)}",
        "the ops ADA applies, each with probability p",
    ),
    "model.ada.target": number("ADA raises p while E[sign(D(x_real))] is above this", 0, 1),
    "model.ada.speed_images": either(
        "images in which ADA's p can go 0 → 1; auto = 100 passes over the set",
        whole("", low=1),
        choice("", ("auto",)),
    ),
    "model.ada.start_images": either(
        "real images before ADA adjusts p (auto = 100 passes over the set)",
        whole("", low=0),
        choice("", ("auto",)),
    ),
    "model.ada.interval": whole("batches between adjustments of ADA's p", low=1),
    "model.compile": choice("torch.compile G and D", COMPILE),
    "model.channels_last": choice(
        "NHWC layout; auto = whichever times faster", (True, False, "auto")
    ),
    "model.n_fixed": whole("fixed latent vectors for the grids", low=1, high=MAX_GRID),
    "model.nonfinite": choice("what a NaN/Inf loss does", NONFINITE),
    # trainer: Lightning's, plus fast_path
    "trainer._target_": target("lightning.pytorch.Trainer"),
    "trainer.accelerator": text("cpu, gpu, mps, ... or auto"),
    "trainer.devices": either(
        "devices per machine (more than 1 needs trainer=ddp)",
        whole("", low=1),
        choice("", ("auto",)),
        wholes("", low=0, example="[0,1]"),
    ),
    "trainer.num_nodes": whole("machines", low=1),
    "trainer.fast_path": choice(
        "auto = time equivalent paths once and take the fastest; off = plain", ("auto", "off")
    ),
    "trainer.precision": choice("numeric precision; auto = bf16-mixed where native", PRECISIONS),
    "trainer.max_epochs": whole("epochs to train", low=1),
    "trainer.max_time": Rule(
        _duration,
        "a duration: 10m, 1h30m, 45s, a number of seconds or DD:HH:MM:SS",
        "stop after this much training time (or max_epochs, whichever first); null = no limit",
        null=True,
    ),
    "trainer.log_every_n_steps": whole("steps between logged loss values", low=1),
    "trainer.limit_train_batches": either(
        "a fraction of each epoch's batches, or a number of batches",
        number("", 0, 1, low_open=True),
        whole("", low=1),
    ),
    "trainer.enable_model_summary": flag("print the networks' summary"),
    "trainer.enable_progress_bar": flag("Lightning's progress bar"),
    "trainer.num_sanity_val_steps": whole("Lightning's sanity steps (no validation here)"),
    "trainer.enable_checkpointing": flag(
        "Lightning's own checkpoints (callbacks.checkpoint writes gan-lab's)"
    ),
    "trainer.deterministic": flag("bit-repeatable CPU runs at some speed cost"),
    "trainer.sync_batchnorm": flag("BatchNorm statistics over the global batch (GPUs)"),
    "trainer.strategy._target_": target("lightning.pytorch.strategies.DDPStrategy"),
    "trainer.strategy.start_method": choice(
        "how DDP starts its ranks", ("spawn", "popen", "fork", "forkserver")
    ),
    "trainer.strategy.find_unused_parameters": flag("each backward reaches one network only"),
    # callbacks
    "callbacks.samples._target_": target("gan_lab.callbacks.SampleGrid"),
    "callbacks.samples.dirpath": path(_DIR, null=False),
    "callbacks.samples.every_n_epochs": whole("a grid every N epochs", low=1),
    "callbacks.samples.nrow": whole("images per grid row", low=1, high=MAX_GRID),
    "callbacks.samples.gif": flag(f"{layout.gif_path('<run>')} at the end"),
    "callbacks.balance._target_": target("gan_lab.callbacks.ImbalanceWarning"),
    "callbacks.balance.patience": whole(
        "epochs in a row that D must win before the warning", low=1
    ),
    "callbacks.balance.d_real_above": number("D wins: mean D(x) above this"),
    "callbacks.balance.d_fake_below": number("... and mean D(G(z)) below this"),
    "callbacks.balance.collapse_ratio": number("collapse: samples spread < this × the reals'", 0),
    "callbacks.balance.collapse_after": whole("... only after this many epochs"),
    "callbacks.balance.action": choice("what the watch does", BALANCE_ACTIONS),
    "callbacks.balance.dirpath": path(_DIR, null=False),
    "callbacks.balance.lr_factor": number(
        "rollback: both learning rates × this", 0, 1, low_open=True
    ),
    "callbacks.metrics._target_": target("gan_lab.callbacks.ImageMetrics"),
    # The callback's settings are ${metrics.*}: the same rules, never a second copy of them.
    **{f"callbacks.metrics.{k}": METRICS[f"metrics.{k}"] for k in _METRICS_CALLBACK_KEYS},
    "callbacks.ssim._target_": target("gan_lab.callbacks.SSIMTracker"),
    "callbacks.ssim.dirpath": path(_DIR, null=False),
    "callbacks.ssim.every_n_steps": whole("SSIM every M batches; 0 = off"),
    "callbacks.ssim.n_real": whole(
        "training images each sample is compared with", low=1, high=MAX_GRID
    ),
    "callbacks.ssim.n_fake": whole("fixed-noise samples averaged", low=1, high=MAX_GRID),
    "callbacks.ssim.seed": whole("which real images"),
    "callbacks.history._target_": target("gan_lab.callbacks.EpochHistory"),
    "callbacks.history.dirpath": path(_DIR, null=False),
    "callbacks.hparams._target_": target("gan_lab.callbacks.HParams"),
    "callbacks.guard._target_": target("gan_lab.callbacks.RunGuard"),
    "callbacks.guard.dirpath": path(_DIR, null=False),
    "callbacks.guard.lr_factor": number(
        "a roll-back multiplies both learning rates by this", 0, 1, low_open=True
    ),
    "callbacks.guard.max_rollbacks": whole("roll-backs before the run stops"),
    "callbacks.guard.max_skipped_steps": whole("NaN/Inf steps in a row that stop the run", low=1),
    "callbacks.checkpoint._target_": target("gan_lab.callbacks.HistoryCheckpoint"),
    "callbacks.checkpoint.dirpath": path(_DIR, null=False),
    "callbacks.checkpoint.every_n_epochs": whole(
        "a checkpoint every N epochs (and the last)", low=1
    ),
    "callbacks.checkpoint.save_last": flag(f"{layout.LAST} after every epoch, for resume"),
    "callbacks.report._target_": target("gan_lab.callbacks.RunReport"),
    "callbacks.report.dirpath": path(_DIR, null=False),
    "callbacks.report.preview_images": whole(
        "training images in preview/batch.png", low=1, high=MAX_GRID
    ),
    "callbacks.report.augment_images": whole("rows of preview/augment.png", low=1, high=MAX_GRID),
    "callbacks.report.augment_copies": whole(
        "augmented copies beside each image", low=1, high=MAX_GRID
    ),
    "callbacks.report.seed": whole("which images the previews show"),
    # metrics (also gan-lab score's defaults)
    **METRICS,
    # logger
    "logger.tensorboard._target_": target("lightning.pytorch.loggers.TensorBoardLogger"),
    "logger.tensorboard.save_dir": path("TensorBoard's folder (the run folder)", null=False),
    "logger.tensorboard.name": text("its subfolder"),
    "logger.tensorboard.version": text("one folder per run"),
    "logger.tensorboard.default_hp_metric": flag("Lightning's hp_metric"),
    # paths
    "paths.root_dir": path("the gan-lab checkout", null=False),
    "paths.data_dir": path("where the named sets live", null=False),
    "paths.output_dir": path("this run's folder", null=False),
}

# recipe=auto (gan_lab/training/recipe.py) leaves these at auto until the run knows its set, machine and
# budget; every other key must hold a value. A resolved config (a checkpoint's) has no auto left.
RECIPE_KEYS = (
    "generator.",
    "discriminator.",
    "data.batch_size",
    "data.augment.",
    "model.betas_",
    "model.lr_",
    "model.ema",
    "model.class_loss",
    "model.ada.enabled",
)
for _key, _rule in list(TRAIN.items()):
    if _key.startswith(RECIPE_KEYS) and not _key.endswith("_target_"):
        TRAIN[_key] = Rule(
            lambda v, r=_rule: v == "auto" or r.ok(v),
            f"{_rule.what}, or auto (recipe=auto chooses)",
            _rule.meaning,
            _rule.null,
        )

# gan-lab sample (conf/sample.yaml)
SAMPLE = {
    "ckpt": path(f"a checkpoint written by train.py, or {layout.BEST}<run_dir>", null=False),
    "n": whole("images to write (per class, for a conditional generator)", low=1, high=MAX_IMAGES),
    "out_dir": path("where the PNG files go", null=False),
    "class": Rule(
        lambda v: (isinstance(v, str) and v != "") or (_is_whole(v) and v >= 0),
        "all, a class index or a class name",
        "conditional generators: all classes, or one",
    ),
    "seed": whole("seeds the latent vectors", low=0),
    "batch_size": whole("images per forward pass", low=1, high=MAX_BATCH),
    "device": text("auto | cpu | cuda | cuda:1 ..."),
}

# gan-lab preview (conf/preview.yaml; its data.* keys are TRAIN's)
PREVIEW = {
    "preview.out_dir": path("null = outputs/preview/<data.name>/"),
    "preview.n": whole("images in the batch grid", low=1, high=MAX_GRID),
    "preview.augment_images": whole(
        "images shown through the augmentation pipeline", low=1, high=MAX_GRID
    ),
    "preview.augment_copies": whole("augmented versions of each", low=1, high=MAX_GRID),
    "preview.seed": whole("which images and which augmentations"),
}

# gan-lab extractor (conf/extractor.yaml; its data.* keys are TRAIN's)
EXTRACTOR = {
    "out": path("where the extractor file goes", null=False),
    "epochs": whole("passes over the training images", low=1),
    "batch_size": whole("images per step", low=1, high=MAX_BATCH),
    "lr": number("Adam learning rate", 0, low_open=True),
    "seed": whole("split and initialisation"),
    "name": text("metric label (val/fid_<name>); empty = the file's stem"),
    "augment": flag("train on the data group's augmentation too"),
    "holdout": number("share of images kept out of training", 0, 1, low_open=True, high_open=True),
}

# gan-lab score (conf/score.yaml): null = as in the run's own metrics config.
SCORE = {
    "run_dir": path("the output folder of a train.py run", null=False),
    "device": text("auto | cpu | cuda ..."),
    "extractor": text("inception | an extractor file", null=True),
    "n_samples": whole("generated images per checkpoint", low=2, high=MAX_IMAGES, null=True),
    "inception_weights": path("the Inception weights file"),
    "best": text("the metric that names the best checkpoint", null=True),
    "batch_size": whole(
        "images per forward pass of the extractor", low=1, high=MAX_BATCH, null=True
    ),
    "seed": whole("noise of the generated sets and the real subset", null=True),
}


# gan-lab tune (conf/tune.yaml and conf/tune_space/); a duration is checked by gan_lab.tune.budget,
# each entry of the space by gan_lab.tune.space (their messages name the entry).
TUNE = {
    "tune.budget": Rule(
        lambda v: isinstance(v, str | int | float) and not isinstance(v, bool),
        "a duration, e.g. 90m, 1h30m, 8h or a number of seconds",
        "wall time of the whole study",
    ),
    "tune.slice": Rule(
        lambda v: isinstance(v, str | int | float) and not isinstance(v, bool),
        "a duration, e.g. 10m or a number of seconds",
        "training time of one trial",
    ),
    "tune.reports": whole("scores per trial; the pruner acts at each", low=1),
    "tune.pruner": choice("what stops trials that are behind", PRUNERS),
    "tune.sampler": choice("how the next trial is chosen", SAMPLERS),
    "tune.metric": choice("the objective, lower is better", ("fid", "kid")),
    "tune.extractor": text("auto | inception | a file from gan-lab extractor"),
    "tune.n_samples": whole("generated images per score", low=2, high=MAX_IMAGES),
    "tune.seed": whole("noise of the scored images, the real subset, the sampler"),
    "tune.dir": path("the study's folder; null = outputs/tune/<data.name>"),
    "tune.workers": whole("worker processes on this machine", low=1),
    "tune.heartbeat": number("seconds between a worker's signs of life", 1),
    "tune.space_file": path("a YAML file with a params: list"),
    "tune_space.params": Rule(
        lambda v: isinstance(v, list | tuple) and len(v) > 0,
        "a list of one or more entries ({key: ..., kind: ...})",
        "the search space",
    ),
}
