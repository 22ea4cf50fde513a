"""Resuming a run: the checkpoint's stored config is the experiment, the command line may only
repeat it or change where the data are, how long to train and how the run is shown."""

import copy
import logging

from omegaconf import DictConfig, OmegaConf, open_dict

from gan_lab.checkpoint import STORED_KEYS
from gan_lab.config.validate import MISSING, lookup
from gan_lab.errors import UserError

log = logging.getLogger(__name__)

# Resuming continues the stored experiment: every key of the checkpoint's config is used again,
# so the same command + ckpt_path= and ckpt_path= alone both go on exactly where the run stopped.
# A key given again with its stored value is fine; with a new value it is refused, except these:
# where the data are and how they are read, how long to train, and how the run is shown.
CHANGEABLE_ON_RESUME = (
    "data.root",
    "data.audit",
    "data.cache",
    "data.cache_dir",
    "data.memory_budget",
    "trainer.max_epochs",
    "trainer.max_time",
    "trainer.accelerator",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
    "metrics.inception_weights",
    "metrics.required",
)
# Settings of this machine, not of the experiment: the stored value is never taken back (a path on
# someone else's machine is no place to write to), the composed one is used.
MACHINE_KEYS = ("data.cache", "data.cache_dir", "data.memory_budget", "metrics.inception_weights")
# Not part of the experiment: where this session writes (paths, hydra), what it resumes from, and
# what the run derived (the class names, taken from the data again).
NOT_STORED = ("paths", "hydra", "ckpt_path", "classes", "chosen")
# Keys that checkpoints of earlier versions hold and this one has not: dropped on a resume, so such
# a checkpoint still resumes. The run folder's names are gan_lab.runs.layout's, never a setting,
# and every callback is given the run folder itself.
RETIRED = ("callbacks.checkpoint.filename", "callbacks.balance.rundir")


def _given(overrides: list[str]) -> dict[str, str]:
    """key → the override that set it (key=value, +key=value, ~key), Hydra's own keys left out."""
    given = {}
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        if key and not key.startswith("hydra") and key != "ckpt_path":
            given[key] = override
    return given


def _plain(value):
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def _without_retired(stored: dict) -> dict:
    stored = copy.deepcopy(stored)
    for key in RETIRED:
        parent, _, last = key.rpartition(".")
        node = lookup(stored, parent)
        if isinstance(node, dict):
            node.pop(last, None)
    return stored


def _is_changeable(key: str) -> bool:
    return any(key == k or key.startswith(k + ".") for k in CHANGEABLE_ON_RESUME)


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


def use_stored_config(cfg: DictConfig, overrides: list[str] | None, stored: dict) -> DictConfig:
    """Resume = continue the same experiment: every stored key is used again (the seed, the
    networks, the data, the procedure, the trainer and callbacks); the command line may repeat a
    stored key with its stored value, or change one of CHANGEABLE_ON_RESUME. Any other change is
    refused naming the key, its stored value and the new one — never silently ignored.
    ``stored`` is the config kept in the checkpoint. ``overrides`` None (a script that composed
    its config and calls train() itself) means: the composed values of CHANGEABLE_ON_RESUME."""
    stored = _without_retired(stored)
    given = _given(overrides or [])
    refused = []
    for key in given:
        old = lookup(stored, key)
        if old is MISSING or key.split(".")[0] in NOT_STORED or _is_changeable(key):
            continue
        new = _plain(OmegaConf.select(cfg, key, default=None))
        if new != old:
            refused.append(f"{key}: {old!r} → {new!r}")
    if refused:
        raise UserError(
            f"resuming from {cfg.ckpt_path} continues its experiment, so {'; '.join(refused)} "
            f"cannot change now (the stored value is on the left). Repeat the stored value or "
            f"leave the key out; only {', '.join(CHANGEABLE_ON_RESUME)} can change on a resume. "
            "To change the experiment, start a new run."
        )
    asked = given if overrides is not None else CHANGEABLE_ON_RESUME
    keep = {k for k in asked if _is_changeable(k)} | set(MACHINE_KEYS)
    kept = {k: lookup(cfg, k) for k in keep}
    with open_dict(cfg):
        _merge_stored(cfg, {k: v for k, v in stored.items() if k not in NOT_STORED})
        for key, value in kept.items():
            if value is not MISSING:
                OmegaConf.update(cfg, key, value, merge=False, force_add=True)
    log.info("resuming from %s with its stored config (seed %s)", cfg.ckpt_path, cfg.get("seed"))
    return cfg
