"""The command-line layer: how every ``gan-lab <command> key=value ...`` (and ``python -m
gan_lab.<tool>``), the tests and the benchmarks turn arguments into a config (composed from the
package's ``conf/``) and pick a device.

``train`` and ``invert`` are ``@hydra.main`` programs (:mod:`gan_lab.cli.main`); every other tool
is a function of a composed config, wrapped by :func:`command`, and answers ``--help`` and
``--cfg job`` the same way (:func:`meta_args`). Library code never imports a tool; tools import
this.
"""

import re
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path

import torch
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf, open_dict

from gan_lab.config import CONF_DIR
from gan_lab.errors import UserError, friendly
from gan_lab.runs import layout


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
    out = []
    for arg in args:
        key, sep, value = str(arg).partition("=")
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
    composed for tools, tests and benchmarks. A bad override is one UserError naming it."""
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
        raise UserError(f"bad arguments {list(overrides)}: {err}") from None
    finally:
        GlobalHydra.instance().clear()
    if output_dir is not None or "paths" in cfg:
        with open_dict(cfg):
            cfg.setdefault("paths", {})
            cfg.paths.output_dir = str(output_dir or Path("outputs") / config_name)
    return cfg


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
    return (
        f"{key} is not a key of this config: {inside}{hint} has {', '.join(map(str, keys))}. "
        "Check the spelling, or choose the group option that has it (--help lists them)."
    )


def require(cfg: DictConfig, usage: str) -> None:
    """Every ``???`` value of the tool's YAML must have been given on the command line."""
    missing = [k for k in cfg if OmegaConf.is_missing(cfg, k)]
    if missing:
        raise UserError(f"missing argument(s) {missing}. Usage: {usage}")


def pick_device(name: str) -> torch.device:
    """``auto``: the GPU when there is one, else the CPU; or any torch device name."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError as err:
        raise UserError(f"device={name} is not a device ({err}); use auto, cpu or cuda.") from None


def tool_help(config_name: str | None, doc: str | None) -> str:
    """A tool's --help: what it does and how to call it (its module's docstring), then every key
    of conf/<config_name>.yaml with its comment."""
    parts = [(doc or "").strip()]
    yaml = CONF_DIR / f"{config_name}.yaml" if config_name else None
    if yaml is not None and yaml.is_file():
        parts.append(f"Options (key=value; conf/{config_name}.yaml):\n\n{yaml.read_text()}")
        parts.append("--cfg job prints the composed config and exits.")
    return "\n\n".join(p for p in parts if p)


def meta_args(argv: Sequence[str], config_name: str | None, doc: str | None) -> bool:
    """Answer --help/-h and --cfg [job] (print, return True: the caller stops there); False when
    the arguments are a normal call."""
    args = list(argv)
    if "--help" in args or "-h" in args:
        print(tool_help(config_name, doc))
        return True
    if "--cfg" in args and config_name:
        i = args.index("--cfg")
        del args[i]
        if i < len(args) and args[i] in ("job", "all"):
            del args[i]
        print(OmegaConf.to_yaml(compose(config_name, args)), end="")
        return True
    return False


def command(config_name: str, usage: str) -> Callable:
    """Make ``fn(cfg)`` a tool's ``main(argv=None)``: compose conf/<config_name>.yaml with the
    arguments, check the required ones, print user errors as one paragraph (exit code 2)."""

    def wrap(fn: Callable[[DictConfig], object]) -> Callable:
        @friendly
        @wraps(fn)
        def main(argv: Sequence[str] | None = None):
            argv = sys.argv[1:] if argv is None else argv
            if meta_args(argv, config_name, sys.modules[fn.__module__].__doc__):
                return None
            cfg = compose(config_name, argv)
            require(cfg, usage)
            return fn(cfg)

        return main

    return wrap
