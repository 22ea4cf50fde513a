"""Configs checked against the schema (gan_lab.config.schema) before any work starts (design §9): one
paragraph naming the key, exit code 2, nothing half-done.

Two boundaries: ``check_config`` for what the command line composed, and ``read_stored`` for the
config inside a checkpoint, which is someone else's file: plain data of the schema's types, no
interpolation, no string where a group belongs, only gan-lab's own class names, and every path it
names inside the run folder (or dropped with a warning).
"""

import copy
import logging
import math
import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from gan_lab.config.logger_keys import LOGGER_DIRS, LOGGER_NAMES, keep_local
from gan_lab.config.schema import GROUPS, MAX_WEIGHTS, TRAIN, Rule, is_number, shown
from gan_lab.errors import UserError

log = logging.getLogger(__name__)

MISSING = object()

# The groups a checkpoint must hold: what the networks, the noise and the data are built from.
REQUIRED_GROUPS = ("data", "generator", "discriminator", "noise", "model")
# The parts of a checkpoint's config that tools and resumed runs build objects from.
STORED_KEYS = REQUIRED_GROUPS
# Keys that only Hydra's instantiate reads; gan-lab builds by name (gan_lab.config.registry), so a stored
# config has no use for them.
HYDRA_KEYS = ("_args_", "_partial_", "_recursive_", "_convert_")
# Stored paths that gan-lab writes to or reads from on its own: confined to the run folder.
CONFINED = (
    "data.audit_report",
    "data.cache_dir",
    "callbacks.samples.dirpath",
    "callbacks.balance.dirpath",
    "callbacks.ssim.dirpath",
    "callbacks.history.dirpath",
    "callbacks.guard.dirpath",
    "callbacks.checkpoint.dirpath",
    "callbacks.report.dirpath",
    *LOGGER_DIRS,  # every logger's folder (gan_lab.config.logger_keys)
)
# The groups whose keys become a constructor's arguments (Lightning's Trainer, the logger, the
# callbacks): a stored key the schema does not know is dropped, never passed on — a stored
# trainer.default_root_dir or logger.tensorboard.sub_dir would put files anywhere.
CONSTRUCTED = ("trainer", "logger", "callbacks")
# ... except these, which a run may hold without a rule of the schema (++trainer.max_time=1h).
STORED_EXTRA = ("trainer.max_time",)
# Stored names that become folder names: one plain name each, never a path.
PLAIN_NAMES = LOGGER_NAMES
# How deep a stored config may nest (a real one is ~4 deep): checked without recursion, so that a
# 5,000-deep config is one paragraph, not a RecursionError.
MAX_STORED_DEPTH = 32


def lookup(cfg, key: str):
    """The value at a dotted key of a config or a plain dict (configs as plain data), or MISSING."""
    node = cfg
    for part in key.split("."):
        if node is None or not isinstance(node, dict | DictConfig) or part not in node:
            return MISSING
        node = node[part]
    if OmegaConf.is_config(node):
        return OmegaConf.to_container(node, resolve=True)
    return node


def _is_reference(cfg, key: str) -> bool:
    if not isinstance(cfg, DictConfig):
        return False
    parent, _, last = key.rpartition(".")
    node = OmegaConf.select(cfg, parent) if parent else cfg
    return isinstance(node, DictConfig) and last in node and OmegaConf.is_interpolation(node, last)


def _builtin_needs_images(cfg) -> str | None:
    if cfg("data.source") == "builtin" and cfg("data.num_images") == 0:
        return "data.num_images=0 draws no images: the built-in set needs a whole number ≥ 1."
    return None


def _uniform_range(cfg) -> str | None:
    low, high = cfg("noise.low"), cfg("noise.high")
    if is_number(low) and is_number(high) and not low < high:
        return f"noise.low={low} must be below noise.high={high} (U(low, high) is empty)."
    return None


def _class_batchnorm(cfg) -> str | None:
    if (
        cfg("model.conditional") is True
        and cfg("generator.conditioning") == "batchnorm"
        and cfg("generator.batch_norm") is False
    ):
        return "generator.conditioning=batchnorm needs generator.batch_norm=true."
    return None


def _wgan_gp_batchnorm(cfg) -> str | None:
    if cfg("model.loss") == "wgan_gp" and cfg("discriminator.batch_norm") is True:
        return (
            "model.loss=wgan_gp penalises D's gradient image by image, but this discriminator has "
            "BatchNorm, which makes each image's score depend on the rest of the batch (Gulrajani "
            "et al. 2017 leave it out of the critic for that reason). Use a D without it: "
            "discriminator.batch_norm=false, or discriminator=fast (spectral norm, no BatchNorm)."
        )
    return None


def _ada_and_diffaug(cfg) -> str | None:
    if cfg("model.ada.enabled") is True and cfg("model.diffaug"):
        return (
            "model.ada.enabled=true and model.diffaug both augment what D sees: model.diffaug "
            "applies its ops always, ADA applies model.ada.ops with an adapted probability. "
            "Choose one: model.diffaug=null, or model.ada.enabled=false."
        )
    return None


def _whole_or(value, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _generator_weights(cfg) -> int:
    """About how many weights generator.* builds (gan_lab.models.Generator, defaults included;
    a key at auto counts as its default: the resolved config is checked again)."""

    def get(key, default):
        return _whole_or(cfg(f"generator.{key}"), default)

    chans = cfg("generator.channels")
    chans = [_whole_or(c, 1) for c in chans] if isinstance(chans, list) else [128, 256, 512]
    size, base = get("image_size", 64), get("base_size", 64)
    chans += chans[-1:] * max(0, round(math.log2(max(size, 1) / max(base, 1))))
    classes, embed, k = get("num_classes", 0), get("class_embed_dim", 32), get("kernel_size", 4)
    z_in = get("latent_dim", 128) + (embed if classes else 0)
    c_in = get("project_channels", 128)
    total = z_in * c_in * get("start_size", 8) ** 2 + classes * embed
    convs = get("convs_per_block", 2) if cfg("generator.upsample") == "nearest" else 1
    for c in chans:
        total += max(c_in, c) * c * k * k * convs + classes * 2 * c  # class-conditional BatchNorm
        c_in = c
    return total + c_in * 3 * max(k, get("out_kernel_size", 5)) ** 2


def _discriminator_weights(cfg) -> int:
    """About how many weights discriminator.* builds (gan_lab.models.Discriminator)."""

    def get(key, default):
        return _whole_or(cfg(f"discriminator.{key}"), default)

    chans = cfg("discriminator.channels")
    chans = [_whole_or(c, 1) for c in chans] if isinstance(chans, list) else [64, 128, 128]
    strides, pads = cfg("discriminator.strides"), cfg("discriminator.paddings")
    strides = [_whole_or(s, 2) for s in strides] if isinstance(strides, list) else [2] * len(chans)
    pads = [_whole_or(p, 0) for p in pads] if isinstance(pads, list) else [None] * len(chans)
    size, base, k = get("image_size", 64), get("base_size", 64), get("kernel_size", 4)
    extra = max(0, round(math.log2(max(size, 1) / max(base, 1))))
    chans, strides, pads = chans[:1] * extra + chans, [2] * extra + strides, [None] * extra + pads
    total, c_in = 0, 3
    for c, s, p in zip(chans, strides, pads, strict=False):
        total += c_in * c * k * k
        p = (k - 1) // 2 if p is None else p
        size, c_in = max(1, (size + 2 * p - k) // max(s, 1) + 1), c
    flat = c_in * size * size
    classes, embed = get("num_classes", 0), get("class_embed_dim", 32)
    # The head, and per class a projection (or an embedding) and the auxiliary classifier's row.
    return total + (flat + embed) * get("out_features", 1) + classes * (2 * flat + embed)


def _network_size(cfg) -> str | None:
    """Each key has its bound (gan_lab.config.schema), but their product can still ask for
    absurd memory: 4096 filters × 4096 filters × a 15×15 kernel is 3.8·10⁹ weights in one layer.
    Refused before anything is built, from the command line or a checkpoint's stored config."""
    for name, weights in (
        ("generator", _generator_weights(cfg)),
        ("discriminator", _discriminator_weights(cfg)),
    ):
        if weights > MAX_WEIGHTS:
            return (
                f"this {name} would have about {weights:.2g} weights ({weights * 4 / 2**30:.0f} GiB "
                f"in float32), over the {MAX_WEIGHTS:.0e} gan-lab builds: reduce {name}.channels, "
                f"{name}.kernel_size, the image size or the number of classes."
            )
    return None


# Rules between keys: each gets a lookup (key → value, or None) and returns a message or None.
CROSS = (
    _builtin_needs_images,
    _uniform_range,
    _class_batchnorm,
    _wgan_gp_batchnorm,
    _ada_and_diffaug,
    _network_size,
)


def check_config(
    cfg: DictConfig | dict, rules: dict[str, Rule] | None = None, where: str = ""
) -> None:
    """Every rule of ``rules`` (the train table by default) that applies to ``cfg``; the first
    broken one is the error. Keys absent from a config (e.g. callbacks switched off) are skipped."""
    table = TRAIN if rules is None else rules
    # A key that only repeats another (${callbacks.checkpoint.every_n_epochs}) is checked after
    # it, so that the message names the key the user typed.
    for key in sorted(table, key=lambda k: _is_reference(cfg, k)):
        rule, value = table[key], lookup(cfg, key)
        if value is MISSING or rule.ok(value):
            continue
        raise UserError(
            f"{where}{key}={shown(value)} is not valid: it must be {rule.what}. "
            f"({key}: {rule.meaning}.)"
        )
    if rules is None:
        for cross in CROSS:
            said = cross(lambda key: None if (v := lookup(cfg, key)) is MISSING else v)
            if said:
                raise UserError(where + said)


def read_stored(config: object, source: str | Path, run_dir: Path) -> dict:
    """A checkpoint's stored run config, read as data: a UserError for anything that is not plain
    data of the schema's types; a copy with every confined path inside ``run_dir``."""
    where = f"{source}: its stored "
    if not isinstance(config, dict):
        raise UserError(f"{source} has no stored run config; use a checkpoint written by train.py.")
    if _too_deep(config):
        raise UserError(
            f"{source}: its stored config nests deeper than {MAX_STORED_DEPTH} levels, which no "
            "config of gan-lab does; the file was not loaded. Use a checkpoint written by train.py."
        )
    _plain(config, "", source)
    for key in GROUPS:
        value = lookup(config, key)
        needed = key in REQUIRED_GROUPS
        if (value is MISSING and needed) or not (
            isinstance(value, dict) or (value in (None, MISSING) and not needed)
        ):
            raise UserError(
                f"{where}{key} must be a group of settings, but it is {_shown(value)}; the file was "
                "not loaded (a group stored as text would be read as a new config). Use a "
                "checkpoint written by train.py."
            )
    check_config(config, where=where)
    classes = config.get("classes", [])
    if not isinstance(classes, list) or not all(_plain_name(c) for c in classes):
        raise UserError(
            f"{where}classes must be plain names (they become folder names), not {classes!r:.200}; "
            "the file was not loaded. Use a checkpoint written by train.py."
        )
    return _known_only(keep_local(_confine(config, run_dir, source), source), source)


def _too_deep(config: dict) -> bool:
    stack = [(config, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_STORED_DEPTH:
            return True
        children = (
            node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        )
        stack += [(child, depth + 1) for child in children]
    return False


def _known_only(config: dict, source) -> dict:
    """``config`` (a copy of the stored one) without the keys of CONSTRUCTED groups that the
    schema does not know, and without a PLAIN_NAMES value that is a path; each dropped with a
    warning (the composed value, the default, is used instead)."""
    dropped = []

    def walk(node: dict, prefix: str) -> None:
        for key in list(node):
            path = f"{prefix}.{key}"
            if isinstance(node[key], dict):
                walk(node[key], path)
            elif path not in TRAIN and path not in STORED_EXTRA:
                dropped.append(path)
                del node[key]

    for group in CONSTRUCTED:
        if isinstance(config.get(group), dict):
            walk(config[group], group)
    for key in PLAIN_NAMES:
        value = lookup(config, key)
        if value not in (MISSING, None, "") and not _plain_name(value):
            dropped.append(key)
            *parents, last = key.split(".")
            lookup(config, ".".join(parents)).pop(last)
    for key in dropped:
        log.warning(
            "%s: its stored %r is not one gan-lab passes on (an unknown setting, or a path where a "
            "plain name belongs); dropped, the default is used instead",
            source,
            key,
        )
    return config


def _shown(value) -> str:
    return "missing" if value is MISSING else f"{type(value).__name__} {value!r:.80}"


def _plain(node, key: str, source) -> None:
    """Plain values all the way down: no interpolation, no class OmegaConf or Hydra would act on."""
    if isinstance(node, dict):
        for k, v in node.items():
            path = f"{key}.{k}" if key else str(k)
            if not isinstance(k, str) or "${" in k or k in HYDRA_KEYS:
                raise UserError(
                    f"{source}: its stored config has the key {path!r}, which only a config meant "
                    "to run code would have; the file was not loaded. Use a checkpoint written by "
                    "train.py."
                )
            if k == "_target_" and (path not in TRAIN or not TRAIN[path].ok(v)):
                raise UserError(
                    f"{source} asks to build {v!r} at {path}, which is not one of gan-lab's own "
                    "classes; it was not loaded (a checkpoint's config may only name gan-lab's "
                    "networks, noise and data). Use a checkpoint written by train.py."
                )
            _plain(v, path, source)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _plain(v, f"{key}[{i}]", source)
    elif isinstance(node, str):
        if "${" in node:
            raise UserError(
                f"{source}: its stored {key} is an interpolation ({node!r:.120}), which OmegaConf "
                "would evaluate, and could run code; a checkpoint's config holds plain values "
                "only. The file was not loaded. Use a checkpoint written by train.py."
            )
    elif node is not None and not isinstance(node, bool | int | float):
        raise UserError(
            f"{source}: its stored {key} is a {type(node).__name__}, not a plain value; the file "
            "was not loaded. Use a checkpoint written by train.py."
        )


def _plain_name(name) -> bool:
    """One folder name: no separator, not . or .., nothing a path would read as a way out."""
    return (
        isinstance(name, str | int)
        and not isinstance(name, bool)
        and str(name) not in ("", ".", "..")
        and "/" not in str(name)
        and "\0" not in str(name)
        and os.sep not in str(name)
    )


def _inside(path: str, folder: Path) -> bool:
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))


def _confine(config: dict, run_dir: Path, source) -> dict:
    """A copy whose confined paths are inside ``run_dir``. A path inside the folder the run was
    written in (its ``paths.output_dir`` then) is the same place in the run folder now (a copied
    or moved run); any other path outside is dropped (null: the default) with a warning. The rest
    of ``paths`` describes the machine the run was trained on and is never used from a checkpoint."""
    config = copy.deepcopy(config)
    paths = config.get("paths") or {}
    written_in = paths.get("output_dir")
    for key in CONFINED:
        value = lookup(config, key)
        if value is MISSING or value is None:
            continue
        kept = _moved(value, written_in, run_dir)
        if kept is None:
            log.warning(
                "%s: its stored %s=%r is outside the run folder %s; dropped (the default is used "
                "instead): a checkpoint's paths stay inside its run folder",
                source,
                key,
                value,
                run_dir,
            )
        *parents, last = key.split(".")
        node = config
        for part in parents:
            node = node[part]
        node[last] = kept
    config["paths"] = {"output_dir": str(run_dir)}
    return config


def _moved(value: str, written_in, run_dir: Path) -> str | None:
    """``value`` re-rooted from the folder the run was written in to ``run_dir``, or kept when
    it already is inside; None when it is neither."""
    if isinstance(written_in, str) and os.path.isabs(written_in) and os.path.isabs(value):
        rel = os.path.relpath(os.path.normpath(value), os.path.normpath(written_in))
        if rel != ".." and not rel.startswith(".." + os.sep):
            candidate = os.path.normpath(run_dir / rel)
            if _inside(candidate, run_dir):
                return candidate
    return value if _inside(value, run_dir) else None
