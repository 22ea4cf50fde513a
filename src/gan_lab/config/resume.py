"""Resuming a run: the checkpoint's stored config is the experiment, the command line may only
repeat it or change where the data are, how long to train and how the run is shown."""

import copy
import logging

from omegaconf import DictConfig, OmegaConf, open_dict

from gan_lab.config.schema import RECIPE_KEYS
from gan_lab.config.validate import MISSING, STORED_KEYS, lookup
from gan_lab.errors import UserError
from gan_lab.models.layers import SLOPE

log = logging.getLogger(__name__)

# Resuming continues the stored experiment: every key of the checkpoint's config is used again,
# so the same command + ckpt_path= and ckpt_path= alone both go on exactly where the run stopped.
# What the command line changes (a key, a group, an experiment preset) is compared with the stored
# value; a different value is refused, except for these: where the data are and how they are
# read, how long to train, on what, and how the run is shown and logged (none changes the
# weights). The data themselves are compared by their fingerprint (gan_lab.data.fingerprint).
CHANGEABLE_ON_RESUME = (
    "data.root",
    "data.cache",
    "data.cache_dir",
    "data.memory_budget",
    "trainer.max_epochs",
    "trainer.max_steps",
    "trainer.max_time",
    "trainer.accelerator",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
    "trainer.log_every_n_steps",
    "metrics",
    "callbacks.metrics",
    "callbacks.samples",
    "callbacks.report",
    "callbacks.hparams",
    "callbacks.history.plot",
    "logger",
    "sweep",  # how a sweep's summary compares the runs, not how one trains
)
# Settings of this machine, not of the experiment: the stored value is never taken back (a path on
# someone else's machine is no place to write to), the composed one is used.
MACHINE_KEYS = ("data.cache", "data.cache_dir", "data.memory_budget", "metrics.inception_weights")
# Not part of the experiment: where this session writes (paths, hydra), what it resumes from, and
# what the run derived (the class names, taken from the data again), and this session's consent.
NOT_STORED = ("paths", "hydra", "ckpt_path", "classes", "chosen", "allow_data_change")
# Keys the run derives from the data when it starts (the channels of data.channels=auto, a
# conditional run's class count): their stored value is the data's, checked by the fingerprint.
DERIVED = (
    "data.channels",
    "generator.num_classes",
    "discriminator.num_classes",
    "discriminator.class_head",
)
# A fine-tuned run's record of its source (gan_lab/training/finetune.py), and what init= takes from
# the source where the command line does not type it: the networks (an experiment preset's are
# replaced) and the data's size and channels. The same command + ckpt_path= resumes with the stored
# values, as the first run followed the source; a typed one is compared as usual.
INIT_RECORD = "init_source"
FOLLOW_INIT = ("generator", "discriminator", "data.image_size", "data.channels")
# Keys that checkpoints of earlier versions hold and this one has not: dropped on a resume, so such
# a checkpoint still resumes. The run folder's names are gan_lab.runs.layout's, never a setting,
# and every callback is given the run folder itself.
RETIRED = ("callbacks.checkpoint.filename", "callbacks.balance.rundir")
# Keys this version added, with the value every run before them had: a checkpoint of an earlier
# version is read as holding it, so leaving the key out or repeating that value resumes, and
# another value is refused naming it (LeakyReLU's slope was fixed at 0.2; the G phase drew new
# fakes before model.g_fakes).
ADDED = {"generator.slope": SLOPE, "discriminator.slope": SLOPE, "model.g_fakes": "new"}
# Nothing was frozen before model.freeze_d / freeze_g (FreezeD); init= is a new run's start,
# not a setting of the weights it resumes (a run before it has none: null, see changes()).
ADDED |= {"model.freeze_d": 0, "model.freeze_g": 0, "init_ema": "restart"}
# No run before model.warmup had a warm-up (003 §6).
ADDED |= {"model.warmup": 0, "model.warmup_lr": 0.01}
# No run before model.anchor_g pulled its G back towards a source.
ADDED |= {"model.anchor_g": 0.0}


def _plain(value):
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def _without_retired(stored: dict) -> dict:
    """The stored config as this version reads it: RETIRED keys dropped, ADDED ones filled in."""
    stored = copy.deepcopy(stored)
    for key in RETIRED:
        parent, _, last = key.rpartition(".")
        node = lookup(stored, parent)
        if isinstance(node, dict):
            node.pop(last, None)
    for key, value in ADDED.items():
        parent, _, last = key.rpartition(".")
        node = lookup(stored, parent)
        if isinstance(node, dict):
            node.setdefault(last, value)
    return stored


def _under(key: str, prefixes) -> bool:
    return any(key == p or key.startswith(p + ".") for p in prefixes)


def _is_changeable(key: str) -> bool:
    return _under(key, CHANGEABLE_ON_RESUME)


def _merge_stored(node: DictConfig, stored: dict, top: bool = True) -> None:
    """Put the stored values into the composed ``node``. A composed interpolation stays: it is
    derived here (the run folder's paths, settings shared between groups), never a stored value."""
    for key, value in stored.items():
        if key in node and OmegaConf.is_interpolation(node, key):
            continue
        current = node.get(key) if key in node else None
        # A group's keys differ between presets: the stored node replaces the composed one.
        if top and key in STORED_KEYS and isinstance(value, dict):
            derived = {}
            if isinstance(current, DictConfig):
                derived = {
                    k: current._get_node(k)._value()
                    for k in current
                    if OmegaConf.is_interpolation(current, k)
                }
            node[key] = OmegaConf.create({**value, **derived})
        elif isinstance(value, dict) and isinstance(current, DictConfig):
            _merge_stored(current, value, top=False)
        else:
            node[key] = value


ABSENT = object()  # a key the composed config does not have (logger=none removes logger.*)


def _leaves(node, prefix: str = "") -> dict:
    """dotted key → value (unresolved: interpolations as written) of every leaf; lists are leaves."""
    out = {}
    items = node.items_ex(resolve=False) if isinstance(node, DictConfig) else node.items()
    for key, value in items:
        path = f"{prefix}{key}"
        if isinstance(value, dict | DictConfig) and len(value):
            out |= _leaves(value, path + ".")
        else:
            out[path] = _plain_raw(value)
    return out


def _plain_raw(value):
    if OmegaConf.is_config(value):
        return OmegaConf.to_container(value, resolve=False)
    return value


def touched_keys(cfg: DictConfig, baseline: DictConfig) -> set[str]:
    """The leaves the command line changed: where ``cfg`` (composed with every argument) differs
    from ``baseline`` (composed with ckpt_path= alone). Groups, experiment presets and single keys
    alike, since both were composed by Hydra."""
    new, base = _leaves(cfg), _leaves(baseline)
    return {
        k
        for k in set(new) | set(base)
        if k.split(".")[0] not in NOT_STORED and new.get(k, ABSENT) != base.get(k, ABSENT)
    }


def typed_keys(cfg: DictConfig, overrides: list[str]) -> set[str]:
    """The keys the command line names one by one (not a group's option): compared with the
    stored value even where the typed value is the default's (data.channels=3 on a run whose
    auto chose 1 composes as the built-in set's 3, and touched_keys would not see it)."""
    keys = set()
    for arg in overrides:
        key, sep, _ = arg.partition("=")
        key = key.lstrip("+~")
        named = sep and key.split(".")[0] not in NOT_STORED and not {"@", "/"} & set(key)
        if named and not isinstance(_value(cfg, key), dict):  # a group's option is not a key
            keys.add(key)
    return keys


def _value(cfg: DictConfig, key: str):
    try:
        value = OmegaConf.select(cfg, key, default=ABSENT, throw_on_missing=False)
    except Exception:  # noqa: BLE001 — an interpolation only Hydra's run resolves (hydra:...)
        return ABSENT
    return _plain(value)


def _same(new, old) -> bool:
    if isinstance(new, bool) or isinstance(old, bool):
        return new is old or (type(new) is type(old) and new == old)
    if isinstance(new, int | float) and isinstance(old, int | float):
        return float(new) == float(old)
    return new == old


def changes(cfg: DictConfig, touched: set[str], stored: dict) -> list[str]:
    """``key: stored → new`` for every touched key that would change the experiment. A key
    recipe=auto chose matches ``auto`` as well as the value it chose."""
    chosen = stored.get("chosen") if isinstance(stored.get("chosen"), dict) else {}
    refused = []
    for key in sorted(touched):
        if _is_changeable(key):
            continue
        new, old = _value(cfg, key), lookup(stored, key)
        # The data's own value (the fingerprint checks it); a data.channels typed is compared.
        if key in DERIVED and (key != "data.channels" or new in ("auto", ABSENT)):
            continue
        old = ABSENT if old is MISSING else old
        if new is ABSENT and old in (ABSENT, None):
            continue
        if old is ABSENT and new is None:  # a key this version added, at its off value
            continue
        if new == "auto" and (key in chosen or key.startswith(RECIPE_KEYS)):
            continue  # the command line leaves it to recipe=auto, which chose the stored value
        if new is not ABSENT and old is not ABSENT and _same(new, old):
            continue
        shown_old = "(not set)" if old is ABSENT else repr(old)
        shown_new = "(removed)" if new is ABSENT else repr(new)
        refused.append(f"{key}: {shown_old} → {shown_new}")
    return refused


def _changeable_prefix(key: str) -> str:
    return next(k for k in CHANGEABLE_ON_RESUME if key == k or key.startswith(k + "."))


def use_stored_config(
    cfg: DictConfig, overrides: list[str] | None, stored: dict, baseline: DictConfig | None = None
) -> DictConfig:
    """Resume = continue the same experiment: every stored key is used again (the seed, the
    networks, the data, the procedure, the trainer and callbacks). What the command line changed
    (``cfg`` against ``baseline``, the config of ckpt_path= alone) may repeat the stored value,
    or change one of CHANGEABLE_ON_RESUME; any other change is refused naming the key, its stored
    value and the new one — whether or not the stored config has the key, never silently
    ignored. Resolved values are compared: a key recipe=auto chose matches ``auto`` as well
    as the value it chose. ``overrides`` None (a script that composed its config and calls
    train() itself) means: the composed values of CHANGEABLE_ON_RESUME."""
    stored = _without_retired(stored)
    if overrides is None:
        touched = {k for k in CHANGEABLE_ON_RESUME if _value(cfg, k) is not ABSENT}
    else:
        typed = typed_keys(cfg, overrides)
        touched = touched_keys(cfg, baseline) if baseline is not None else set()
        if isinstance(stored.get(INIT_RECORD), dict):  # init= took these from its source
            touched -= {k for k in touched if k not in typed and _under(k, FOLLOW_INIT)}
        touched |= typed
    refused = changes(cfg, touched, stored)
    if refused:
        raise UserError(
            f"resuming from {cfg.ckpt_path} continues its experiment, so {'; '.join(refused)} "
            f"cannot change now (the stored value is on the left). Repeat the stored value or "
            f"leave the key out; only {', '.join(CHANGEABLE_ON_RESUME)} can change on a resume. "
            "To change the experiment, start a new run."
        )
    if isinstance(stored.get("chosen"), dict):  # what recipe=auto chose stays on record
        with open_dict(cfg):
            cfg.chosen = stored["chosen"]
    keep = {_changeable_prefix(k) for k in touched if _is_changeable(k)} | set(MACHINE_KEYS)
    kept = {k: _value(cfg, k) for k in keep}
    with open_dict(cfg):
        _merge_stored(cfg, {k: v for k, v in stored.items() if k not in NOT_STORED})
        for key, value in kept.items():
            if value is not ABSENT:
                OmegaConf.update(cfg, key, value, merge=False, force_add=True)
            elif OmegaConf.select(cfg, key, default=None) is not None:
                parent, _, last = key.rpartition(".")
                node = OmegaConf.select(cfg, parent) if parent else cfg
                node.pop(last, None)
    log.info("resuming from %s with its stored config (seed %r)", cfg.ckpt_path, cfg.get("seed"))
    return cfg
