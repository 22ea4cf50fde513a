"""The model group's keys (conf/model/): the training procedure of design §4 — the loss, learning
rates, phases, labels, EMA, augmentation, penalties, compilation and the NaN/Inf policy — and
recipe, which leaves some of them to the run's set, machine and budget."""

from gan_lab.config.schema.rules import (
    BETAS,
    MAX_BLOCKS,
    MAX_GRID,
    Rule,
    choice,
    either,
    flag,
    number,
    whole,
)
from gan_lab.core.diffaug import OPS
from gan_lab.core.losses import LOSSES

# The NaN/Inf policies (training/module.py) and model.compile's values (training/fast_path.py).
NONFINITE = ("skip", "warn", "rollback", "stop")
COMPILE = (True, False, "auto", "default", "max-autotune-no-cudagraphs", "reduce-overhead")

MODEL = {
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
    "model.g_fakes": choice(
        "the G phase's fakes: new (a second G pass) or reuse (the D phase's)",
        ("new", "reuse"),
    ),
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
    "model.ada.target": either(
        "ADA raises p while E[sign(D(x_real))] is above this; auto = 0.6, 0.2 for init=",
        number("", 0, 1),
        choice("", ("auto",)),
    ),
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
    "model.freeze_d": whole(
        "FreezeD: D's first N blocks (image side) keep their weights; 0 = off",
        low=0,
        high=MAX_BLOCKS,
    ),
    "model.freeze_g": whole(
        "G's first N blocks (latent side) keep their weights; 0 = off", low=0, high=MAX_BLOCKS
    ),
    "model.anchor_g": number(
        "init= only: the share of the way G's weights move back to the source G's after each G "
        "update; auto = 0.001 for init= from 64 px to under 128, else 0; 0 = off",
        0,
        1,
        high_open=True,
    ),
    "model.warmup": whole(
        "the assignment's warm-up before training: SGD steps on the first layer of G and of D "
        "only, on copies (warmup.csv); 0 = off",
        low=0,
        high=100_000,
    ),
    "model.warmup_lr": number("model.warmup: the SGD learning rate", 0, low_open=True),
}
