"""Configuration: composition (:func:`compose`, the one place a conf/ config is composed outside a
Hydra run: commands, library functions, tests, benchmarks) and the OmegaConf resolvers conf/ uses
(registered on import) here; the schema of every user-facing key (schema/, one module per group),
the checks against it for the command line and for a checkpoint's stored config (validate.py),
and the classes a config may build by name (registry.py)."""

import re
from collections.abc import Sequence
from pathlib import Path

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf, open_dict

from gan_lab.errors import UserError
from gan_lab.hardware import ddp_start_method
from gan_lab.runs import layout

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # gan_lab/ (this is gan_lab/config/__init__.py)


CONF_DIR = PACKAGE_DIR / "conf"  # the YAML configs, inside the package (installed or not)


def cwd() -> str:
    """The folder gan-lab was started in: data/ and outputs/ are found there by default, whether
    gan-lab is installed or run from its checkout."""
    return str(Path.cwd())


def run_dir(ckpt_path, default: str) -> str:
    """A resumed run writes into the run folder of its checkpoint (<run>/checkpoints/x.ckpt, or
    best@<run> / <run>/best: gan-lab score's choice). A checkpoint that is not in a run's
    checkpoints/ folder (one downloaded or handed over) starts a new run folder: the folder
    around a loose file is nobody's run, and Hydra writes there before anything is checked."""
    if ckpt_path in (None, "", "None", "null"):
        return default
    best = layout.parse_best(ckpt_path)
    if best is not None:
        return str(best.expanduser().resolve())
    if not layout.in_checkpoints(Path(str(ckpt_path)).expanduser().resolve()):
        return default
    return str(layout.run_of(ckpt_path))


def inversion_dir(ckpt) -> str:
    """invert.py writes beside the run it inverts: <run>/inversions/, else outputs/inversions/."""
    elsewhere = str(layout.inversions_dir("outputs"))
    if ckpt in (None, "", "None", "null"):
        return elsewhere
    best = layout.parse_best(ckpt)  # ckpt=best@<run_dir> (gan-lab score's choice)
    if best is not None and str(ckpt).startswith(layout.BEST):
        return str(layout.inversions_dir(best.expanduser().resolve()))
    path = Path(str(ckpt)).expanduser()
    if path.is_file() and layout.in_checkpoints(path):
        return str(layout.inversions_dir(layout.run_of(path)))
    return elsewhere


def hydra_subdir(output_dir: str, stamp: str) -> str:
    """The resolver behind conf/hydra/default.yaml's output_subdir: where Hydra records this
    session's config in the run folder (the layout's choice: a resume never overwrites the first
    session's record)."""
    return layout.hydra_subdir(output_dir, stamp)


def run_name(override_dirname: str, max_chars: int = 120) -> str:
    """A sweep job's folder name from its overrides: only characters that need no quoting in a
    shell ('/' would even nest folders), and short enough for any file system (names are capped
    at 255 bytes); the job number in front keeps it unique."""
    name = re.sub(r"[^\w.,=+-]", "_", str(override_dirname), flags=re.ASCII)  # ASCII: bytes = chars
    return name if len(name) <= max_chars else name[: max_chars - 5] + "+more"


def register_resolvers() -> None:
    for name, fn in (
        ("cwd", cwd),
        ("run_dir", run_dir),
        ("ddp_start_method", ddp_start_method),
        ("run_name", run_name),
        ("inversion_dir", inversion_dir),
        ("hydra_subdir", hydra_subdir),
    ):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


def to_dict(cfg: DictConfig) -> dict:
    return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)


def _quote(arg: str, parser: OverridesParser) -> str:
    """``key=value`` with the value quoted where Hydra's grammar would misread a file path.

    Run folders of sweeps contain ``=`` and ``,`` (``0_noise=uniform,seed=1``) and users type
    ``~``: Hydra would reject those or read a comma as a sweep. Lists (``[a,b]``) stay lists.
    """
    key, sep, value = arg.partition("=")
    if not sep or value.startswith(("[", "{", "'", '"')):
        return arg
    try:
        if "," not in value:
            parser.parse_override(arg)
            return arg
    except HydraException:
        pass
    return f"{key}='{value.replace(chr(92), chr(92) * 2).replace(chr(39), chr(92) + chr(39))}'"


def experiment_file(args: Sequence[str]) -> list[str]:
    """``experiment=<file or study folder>`` → ``experiment=<name>`` and the Hydra search path
    that holds it: a recipe written by ``gan-lab tune`` (<study>/experiment/best.yaml) is an
    experiment preset like the shipped ones, read by Hydra from its own folder."""
    from gan_lab.runs import layout

    out = []
    for arg in args:
        key, sep, value = str(arg).partition("=")
        if sep and key == "experiment" and value.startswith(("'", '"')):
            # gan-lab train quotes a path value for Hydra before train_main gets here (cli.args)
            value = str(OverridesParser.create().parse_override(f"x={value}").value())
        found = layout.experiment_search_path(value) if sep and key == "experiment" else None
        if found is None:
            out.append(arg)
            continue
        where, option = found
        out += [f"experiment={option}", f"hydra.searchpath=[{where.as_uri()}]"]
    return out


def compose(
    config_name: str,
    overrides: Sequence[str] = (),
    output_dir: str | Path | None = None,
    return_hydra_config: bool = False,
) -> DictConfig:
    """conf/<config_name>.yaml with Hydra overrides, outside a Hydra run: the one place config is
    composed for commands, tests and benchmarks. A bad override is one UserError naming it."""
    parser = OverridesParser.create()
    args = [_quote(str(a), parser) for a in experiment_file(overrides)]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = hydra_compose(
                config_name=config_name, overrides=args, return_hydra_config=return_hydra_config
            )
    except HydraException as err:
        unknown = re.search(r"Could not override '([^']+)'", str(err))
        if unknown and "To append to your config" in str(err):
            key = unknown.group(1)
            others = [a for a in args if a.split("=", 1)[0].lstrip("+~") != key]
            raise UserError(_unknown_key(config_name, key, others)) from None
        raise UserError(_hydra_error(err, list(overrides))) from None
    finally:
        GlobalHydra.instance().clear()
    if output_dir is not None or "paths" in cfg:
        with open_dict(cfg):
            cfg.setdefault("paths", {})
            cfg.paths.output_dir = str(output_dir or Path("outputs") / config_name)
    return cfg


def compose_again(config_name: str, overrides: Sequence[str] = ()) -> DictConfig:
    """:func:`compose`, also from inside a running Hydra app (a resume composes the config of
    ckpt_path= alone to see what the command line changed): there Hydra's own loader composes
    it, and its global state, which the running app still needs, is left as it was."""
    if not GlobalHydra.instance().is_initialized():
        return compose(config_name, overrides)
    parser = OverridesParser.create()
    args = [_quote(str(a), parser) for a in overrides]
    try:
        return hydra_compose(config_name=config_name, overrides=args)
    except HydraException as err:
        raise UserError(_hydra_error(err, list(overrides))) from None


def _hydra_error(err: Exception, overrides: list[str]) -> str:
    """Hydra's several lines about a bad argument → one paragraph: a group option that does not
    exist names the group's options (the nearest first); anything else Hydra's first line."""
    import difflib

    text = str(err)
    missing = re.search(r"Could not find '([^'/]+)/+([^']+)'", text)
    options = re.search(r"Available options in '[^']+':\n((?:\t.*\n?)+)", text)
    if missing and options:
        group, option = missing.groups()
        choices = [line.strip() for line in options.group(1).splitlines() if line.strip()]
        if "/" in option or option.endswith(".yaml"):  # experiment=<a file that is not there>
            return (
                f"{group}={option}: there is no such file (or it is not in a folder named "
                f"{group}/). {group}= takes a preset ({', '.join(choices)}), a recipe file that "
                f"gan-lab tune wrote (<study>/{group}/best.yaml) or that study's folder."
            )
        near = difflib.get_close_matches(option, choices, n=1)
        hint = f" (did you mean {group}={near[0]}?)" if near else ""
        return (
            f"{group}={option} is not an option of the {group} group{hint}; the options are "
            f"{', '.join(choices)} (gan-lab train --help lists every group)."
        )
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and "hydra.cc" not in ln]
    said = " ".join(lines[:3]).rstrip(".")
    return (
        f"the arguments {overrides} cannot be read: {said}. Write each as key=value; quote a "
        "value that holds spaces, brackets, commas or quotes (key='my value'). --help lists the "
        "groups and keys."
    )


def _unknown_key(config_name: str, key: str, others: list[str]) -> str:
    """One paragraph for a key the composed config does not have: the nearest node that exists
    and its keys (data=builtin has no data.audit: the built-in set is never audited)."""
    try:
        cfg = compose(config_name, others)
    except UserError:
        cfg = compose(config_name)
    parts, node, where = key.split("."), cfg, []
    for part in parts[:-1]:
        if not isinstance(node, DictConfig) or part not in node:
            break
        node, where = node[part], [*where, part]
    keys = [k for k in node if k not in ("paths", "hydra")] if isinstance(node, DictConfig) else []
    inside = ".".join(where) or f"conf/{config_name}.yaml"
    hint = ""
    if (
        where
        and where[0] in cfg
        and isinstance(cfg[where[0]], DictConfig)
        and "name" in cfg[where[0]]
    ):
        hint = f" ({where[0]}={cfg[where[0]].name})"
    import difflib

    near = difflib.get_close_matches(parts[-1], [str(k) for k in keys], n=1)
    nearest = f" Did you mean {'.'.join([*where, near[0]])}?" if near else ""
    return (
        f"{key} is not a key of this config: {inside}{hint} has {', '.join(map(str, keys))}."
        f"{nearest} Check the spelling, or choose the group option that has it (--help lists "
        "them)."
    )


register_resolvers()
