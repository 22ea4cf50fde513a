"""Every value a user can get wrong, checked before any work starts (design §9): one paragraph
naming the key, exit code 2, nothing half-done. Constructors check their own arguments too;
``errors.friendly`` unwraps those errors from Hydra's InstantiationException."""

import math

from omegaconf import DictConfig

from gan_lab.errors import UserError


def _whole(minimum: int):
    """A rule: a whole number ≥ minimum (as YAML gives it: an int)."""
    return lambda v: isinstance(v, int) and v >= minimum


# key: (test, what it must be). Keys absent from a config (e.g. callbacks switched off) are skipped.
RULES = {
    "data.batch_size": (_whole(1), "a whole number ≥ 1"),
    "data.image_size": (_whole(16), "a whole number ≥ 16"),
    "data.channels": (lambda v: v in (1, 3, "auto"), "1 (grey), 3 (RGB) or auto"),
    "data.audit.near_duplicates": (lambda v: v in ("skip", "keep"), "skip or keep"),
    "data.audit.near_duplicate_distance": (
        lambda v: _number(v) and 0 <= v < 1,
        "a number in [0, 1): the largest block difference of the same picture (0.06)",
    ),
    "data.audit.max_skipped_share": (
        lambda v: _number(v) and 0 <= v <= 1,
        "a number in [0, 1]: the share of a set the audit may skip (1 = any)",
    ),
    "data.cache": (lambda v: isinstance(v, bool), "true or false"),
    "model.d_steps": (_whole(1), "a whole number ≥ 1"),
    "model.lr_d": (lambda v: _number(v) and v >= 0, "a number ≥ 0 (0 freezes D)"),
    "model.lr_g": (lambda v: _number(v) and v >= 0, "a number ≥ 0 (0 freezes G)"),
    "model.label_noise": (lambda v: _number(v) and 0 <= v < 0.5, "a number in [0, 0.5)"),
    "model.real_label": (lambda v: _number(v) and 0 <= v <= 1, "a number in [0, 1]"),
    "model.fake_label": (lambda v: _number(v) and 0 <= v <= 1, "a number in [0, 1]"),
    "model.ema": (lambda v: _number(v) and 0 <= v < 1, "a number in [0, 1); 0 = off"),
    "model.r1_gamma": (lambda v: _number(v) and v >= 0, "a number ≥ 0"),
    "model.class_loss": (lambda v: _number(v) and v >= 0, "a number ≥ 0 (0 = off)"),
    "model.n_fixed": (_whole(1), "a whole number ≥ 1"),
    "model.betas_d": (lambda v: _betas(v), "two numbers in [0, 1), e.g. [0.5, 0.999]"),
    "model.betas_g": (lambda v: _betas(v), "two numbers in [0, 1), e.g. [0.5, 0.999]"),
    "trainer.max_epochs": (_whole(1), "a whole number ≥ 1"),
    "trainer.log_every_n_steps": (_whole(1), "a whole number ≥ 1"),
    "callbacks.checkpoint.every_n_epochs": (
        _whole(1),
        "a whole number ≥ 1 (the final epoch is always saved too)",
    ),
    "callbacks.samples.every_n_epochs": (
        _whole(1),
        "a whole number ≥ 1",
    ),
    "callbacks.report.preview_images": (
        _whole(1),
        "a whole number ≥ 1 (training images in preview/batch.png)",
    ),
    "callbacks.report.augment_images": (
        _whole(1),
        "a whole number ≥ 1 (rows of preview/augment.png)",
    ),
    "callbacks.report.augment_copies": (
        _whole(1),
        "a whole number ≥ 1 (augmented copies beside each image)",
    ),
    "metrics.every_n_epochs": (
        _whole(0),
        "a whole number ≥ 0; 0 = off",
    ),
    "metrics.n_samples": (_whole(2), "a whole number ≥ 2"),
    "metrics.ssim_every_n_steps": (
        _whole(0),
        "a whole number ≥ 0; 0 = off",
    ),
}


def _number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _betas(v) -> bool:
    return len(v) == 2 and all(_number(b) and 0 <= b < 1 for b in v)


def _get(cfg: DictConfig, key: str):
    node = cfg
    for part in key.split("."):
        if node is None or part not in node:
            return _MISSING
        node = node[part]
    return node


_MISSING = object()


def _whole(low: int, note: str = ""):
    return (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low,
        f"a whole number ≥ {low}{note}",
    )


# The python -m tools' own keys (conf/<tool>.yaml).
SAMPLE_RULES = {"n": _whole(1), "batch_size": _whole(1), "seed": _whole(0)}
SCORE_RULES = {"n_samples": _whole(2), "batch_size": _whole(1), "seed": _whole(0)}


def check_config(cfg: DictConfig, rules: dict | None = None) -> None:
    """All the rules that apply to ``cfg``; the first broken one is the error."""
    for key, (ok, what) in (RULES if rules is None else rules).items():
        value = _get(cfg, key)
        if value is _MISSING or value is None:
            continue
        try:
            good = ok(value)
        except TypeError:
            good = False
        if not good:
            raise UserError(f"{key}={value!r} is not valid: it must be {what}.")
