"""The command-line layer: how every ``python -m gan_lab.<tool> key=value ...`` command, the tests
and the benchmarks turn arguments into a config (composed from ``conf/``) and pick a device.

``train.py`` and ``invert.py`` are ``@hydra.main`` programs; every other tool is a function of a
composed config, wrapped by :func:`command`. Library code never imports a tool; tools import this.
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

from gan_lab.config import project_root
from gan_lab.errors import UserError, friendly


def conf_dir() -> Path:
    path = Path(project_root()) / "conf"
    if not path.is_dir():
        raise UserError(
            f"cannot find the config folder {path}; run gan-lab tools from its checkout."
        )
    return path


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


def compose(
    config_name: str,
    overrides: Sequence[str] = (),
    output_dir: str | Path | None = None,
    return_hydra_config: bool = False,
) -> DictConfig:
    """conf/<config_name>.yaml with Hydra overrides, outside a Hydra run: the one place config is
    composed for tools, tests and benchmarks. A bad override is one UserError naming it."""
    parser = OverridesParser.create()
    args = [_quote(str(a), parser) for a in overrides]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            cfg = hydra_compose(
                config_name=config_name, overrides=args, return_hydra_config=return_hydra_config
            )
    except HydraException as err:
        unknown = re.search(r"Could not override '([^']+)'", str(err))
        if unknown and "To append to your config" in str(err):
            raise UserError(
                f"unknown argument '{unknown.group(1)}' for conf/{config_name}.yaml; "
                f"its keys: {', '.join(_keys(config_name))}."
            ) from None
        raise UserError(f"bad arguments {list(overrides)}: {err}") from None
    finally:
        GlobalHydra.instance().clear()
    if output_dir is not None or "paths" in cfg:
        with open_dict(cfg):
            cfg.setdefault("paths", {})
            cfg.paths.output_dir = str(output_dir or Path("outputs") / config_name)
    return cfg


def _keys(config_name: str) -> list[str]:
    cfg = compose(config_name)
    return [k for k in cfg if k not in ("paths", "hydra")]


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


def command(config_name: str, usage: str) -> Callable:
    """Make ``fn(cfg)`` a tool's ``main(argv=None)``: compose conf/<config_name>.yaml with the
    arguments, check the required ones, print user errors as one paragraph (exit code 2)."""

    def wrap(fn: Callable[[DictConfig], object]) -> Callable:
        @friendly
        @wraps(fn)
        def main(argv: Sequence[str] | None = None):
            cfg = compose(config_name, sys.argv[1:] if argv is None else argv)
            require(cfg, usage)
            return fn(cfg)

        return main

    return wrap
