"""The search space: a list of knobs in conf/tune_space/<name>.yaml (or a user's file), each
relative to a centre — the recipe the study starts from — so that one space fits every set.

A trial's values become ``key=value`` overrides of the train config, exactly what a user would type.
"""

from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf

from gan_lab.config.schema import is_number, shown
from gan_lab.errors import UserError

KINDS = ("log_factor", "scale", "choice", "float", "int")
# The groups whose keys a space may name; a group's own name (noise) picks one of its options.
SEARCHED = ("data", "generator", "discriminator", "noise", "model", "trainer")
EXAMPLE = "{key: model.lr_g, kind: log_factor, low: 0.5, high: 2}"


@dataclass(frozen=True)
class Param:
    keys: tuple[str, ...]  # the train config's keys that take this knob's value
    kind: str
    low: float | None = None
    high: float | None = None
    values: tuple = ()
    log: bool = False

    @property
    def name(self) -> str:
        """Optuna's parameter name: the key, or the keys joined by +."""
        return "+".join(self.keys)


def centre(cfg: DictConfig) -> dict[str, object]:
    """The recipe the search is centred on: dotted key → value, and group → option — what
    recipe=auto chooses for this set on this machine (gan_lab/training/recipe.py, through train.load_data:
    the set is loaded once), with the user's own arguments kept as they are."""
    from gan_lab.training.train import load_data

    out: dict[str, object] = {}
    choices = OmegaConf.select(cfg, "hydra.runtime.choices", default=None) or {}
    cfg = OmegaConf.create({k: cfg._get_node(k) for k in cfg if k != "hydra"})  # no Hydra run here
    load_data(cfg)
    out.update({g: choices[g] for g in SEARCHED if g in choices})

    def walk(node, prefix: str) -> None:
        for key, value in node.items():
            dotted = f"{prefix}.{key}"
            (walk(value, dotted) if isinstance(value, dict) else out.__setitem__(dotted, value))

    for group in SEARCHED:
        if group in cfg:
            walk(OmegaConf.to_container(cfg[group], resolve=True), group)
    return out


def _bad(i: int, entry, why: str) -> UserError:
    return UserError(
        f"entry {i + 1} of the search space ({entry}) {why}. Each entry is like {EXAMPLE}; "
        f"kind is one of {', '.join(KINDS)} (conf/tune_space/default.yaml explains them)."
    )


def _numbers(v) -> bool:
    return is_number(v) or (isinstance(v, list) and len(v) > 0 and all(map(is_number, v)))


def parse_space(entries, centred: dict[str, object]) -> list[Param]:
    """The space's entries checked against the centre (every key must be one the train config has);
    an empty space or a broken entry is one UserError naming it."""
    if not isinstance(entries, list | tuple) or not entries:
        raise UserError(
            "the search space is empty: a study needs at least one knob to turn. Give "
            "tune_space=<name> (conf/tune_space/) or tune.space_file=<yaml> with a `params:` list "
            f"of entries like {EXAMPLE}."
        )
    params, names = [], set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise _bad(i, entry, "is not a mapping")
        keys = entry.get("keys", [entry["key"]] if "key" in entry else [])
        keys = [keys] if isinstance(keys, str) else keys
        if not keys or not all(isinstance(k, str) and k for k in keys):
            raise _bad(i, entry, "names no key (key: <dotted key> or keys: [a, b])")
        unknown = [k for k in keys if k not in centred]
        if unknown:
            raise _bad(
                i, entry, f"names {', '.join(unknown)}, which the train config does not have"
            )
        kind = entry.get("kind")
        if kind not in KINDS:
            raise _bad(i, entry, f"has kind {kind!r}")
        low, high, values = entry.get("low"), entry.get("high"), entry.get("values")
        log = bool(entry.get("log", kind == "log_factor"))
        if kind in ("log_factor", "float", "int"):
            if not (is_number(low) and is_number(high) and low < high):
                raise _bad(i, entry, "needs numbers low < high")
            if log and low <= 0:
                raise _bad(i, entry, "has a log scale, so low must be above 0")
            if kind == "int" and not (float(low).is_integer() and float(high).is_integer()):
                raise _bad(i, entry, "is whole-numbered, so low and high must be whole numbers")
        else:
            if not isinstance(values, list) or not values:
                raise _bad(i, entry, "needs a non-empty list of values")
            if kind == "scale" and not all(is_number(v) and v > 0 for v in values):
                raise _bad(i, entry, "scales by its values, so they must be numbers above 0")
        if kind in ("log_factor", "scale"):
            off = [k for k in keys if not _numbers(centred[k])]
            if off:
                raise _bad(i, entry, f"multiplies {', '.join(off)}, which is not a number")
        param = Param(tuple(keys), kind, low, high, tuple(values or ()), log)
        if param.name in names:
            raise _bad(i, entry, "repeats a key of an earlier entry")
        names.add(param.name)
        params.append(param)
    return params


def _scaled(value, factor: float):
    if isinstance(value, list):
        return [_scaled(v, factor) for v in value]
    if isinstance(value, int):
        return max(1, round(value * factor))
    return float(f"{value * factor:.4g}")  # 4 significant digits: a recipe one can read


def _labels(param: Param) -> list[str]:
    return [shown(v) for v in param.values]


def suggest(trial, params: list[Param], centred: dict[str, object]) -> dict[str, object]:
    """The trial's value of every key (Optuna draws the knobs; the keys follow from the centre)."""
    values: dict[str, object] = {}
    for p in params:
        if p.kind == "log_factor":
            factor = trial.suggest_float(p.name, p.low, p.high, log=True)
            values.update({k: _scaled(centred[k], factor) for k in p.keys})
        elif p.kind == "scale":
            factor = trial.suggest_categorical(p.name, list(p.values))
            values.update({k: _scaled(centred[k], factor) for k in p.keys})
        elif p.kind == "choice":
            # Optuna's choices are plain scalars: a list value ([0.5, 0.999]) is drawn by its label.
            label = trial.suggest_categorical(p.name, _labels(p))
            values.update(dict.fromkeys(p.keys, p.values[_labels(p).index(label)]))
        elif p.kind == "float":
            values.update(
                dict.fromkeys(p.keys, trial.suggest_float(p.name, p.low, p.high, log=p.log))
            )
        else:
            drawn = trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log)
            values.update(dict.fromkeys(p.keys, drawn))
    return values


def centre_params(params: list[Param], centred: dict[str, object]) -> dict[str, object]:
    """Optuna's parameters of the centre itself (the study's first trial); a knob whose centre is
    not among its values is left to the sampler."""
    out: dict[str, object] = {}
    for p in params:
        first = centred[p.keys[0]]
        if p.kind == "log_factor" and p.low <= 1 <= p.high:
            out[p.name] = 1.0
        elif p.kind == "scale" and 1 in p.values:
            out[p.name] = 1
        elif p.kind == "choice" and shown(first) in _labels(p):
            out[p.name] = shown(first)
        elif p.kind in ("float", "int") and is_number(first) and p.low <= first <= p.high:
            out[p.name] = int(first) if p.kind == "int" else float(first)
    return out


def overrides(values: dict[str, object]) -> list[str]:
    """``key=value`` as typed on the command line; a group's name picks its option (noise=uniform)."""
    return [f"{k}={v}" if "." not in k else f"{k}={shown(v)}" for k, v in values.items()]
