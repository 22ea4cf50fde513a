"""best.yaml: the best trial as an experiment preset, so ``gan-lab train experiment=<it>`` trains
the same recipe again (for its slice; add trainer.max_time=... for longer).

It lives in <study>/experiment/: that folder's parent is a Hydra search path in which
``experiment=best`` names it (gan_lab.config.experiment_file turns a path into that).
"""

from pathlib import Path

import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser

from gan_lab.config import CONF_DIR
from gan_lab.runs import layout
from gan_lab.runs.safe_io import write_atomic

GROUPS = {p.name for p in CONF_DIR.iterdir() if p.is_dir() and not p.name.startswith("_")}
SKIPPED = ("hydra", "paths", "ckpt_path")  # where a session writes or resumes: not the recipe


def _set(tree: dict, key: str, value) -> None:
    *parents, last = key.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[last] = value


# Groups after `experiment` in conf/train.yaml's defaults: a preset cannot override them, so
# their option's content (a _global_ preset) is written out instead.
AFTER_EXPERIMENT = ("debug",)


def _merge(tree: dict, new: dict) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(tree.get(key), dict):
            _merge(tree[key], value)
        else:
            tree[key] = value


def recipe(args: list[str]) -> tuple[list, dict]:
    """(defaults entries, values) of an experiment preset equal to the arguments ``args``."""
    defaults, values = [], {}
    for o in OverridesParser.create().parse_overrides(list(args)):
        key = o.key_or_group
        if o.is_delete() or key.split(".")[0] in SKIPPED:
            continue
        value = o.value()
        if key == "experiment":  # a shipped preset under this one: same group, relative name
            defaults.append(str(value))
        elif key in AFTER_EXPERIMENT:
            preset = yaml.safe_load((CONF_DIR / key / f"{value}.yaml").read_text()) or {}
            defaults += [d for d in preset.pop("defaults", []) if d != "_self_"]
            _merge(values, preset)
        elif "." not in key and key in GROUPS:
            defaults.append({f"override /{key}": value})
        else:
            _set(values, key, value)
    return defaults, values


def write_best(study_dir: Path, args: list[str], header: str) -> Path:
    """<study>/experiment/best.yaml from the trial's arguments (the study's and the trial's)."""
    defaults, values = recipe(args)
    text = "# @package _global_\n" + "".join(f"# {line}\n" for line in header.splitlines())
    text += yaml.safe_dump({"defaults": [*defaults, "_self_"]}, sort_keys=False)
    text += yaml.safe_dump(values, sort_keys=False, default_flow_style=None) if values else ""
    path = layout.best_recipe(study_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text.encode())
    return path
