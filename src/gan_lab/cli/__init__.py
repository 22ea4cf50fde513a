"""The commands: one module per ``gan-lab <command>`` (``python -m gan_lab <command>`` is the
same program), and what they share here — ``--help`` and ``--cfg job`` answered the same way
(:func:`meta_args`), the required arguments checked (:func:`require`), user errors printed as one
paragraph (:func:`command`).

This folder is the top floor: it imports the library (the config composed by
:func:`gan_lab.config.compose`, the device by :func:`gan_lab.hardware.pick_device`, the work
itself), and nothing outside it imports from it (tests/test_design.py checks). ``train`` and
``invert`` are ``@hydra.main`` programs (:mod:`gan_lab.cli.main`); every other command is a
function of its composed conf/<command>.yaml, wrapped by :func:`command`.
"""

import sys
from collections.abc import Callable, Sequence
from functools import wraps

from omegaconf import DictConfig, OmegaConf

from gan_lab.config import compose
from gan_lab.errors import UserError, friendly


def require(cfg: DictConfig, usage: str) -> None:
    """Every ``???`` value of the command's YAML must have been given on the command line."""
    missing = [k for k in cfg if OmegaConf.is_missing(cfg, k)]
    if missing:
        raise UserError(f"missing argument(s) {missing}. Usage: {usage}")


def tool_help(config_name: str | None, doc: str | None) -> str:
    """A command's --help: what it does and how to call it (its module's docstring), then its
    groups and keys with the schema's meanings, defaults and ranges (gan_lab.config.reference)."""
    if config_name is None:
        return (doc or "").strip()
    from gan_lab.config.reference import help_text

    return help_text(config_name, doc)


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
    """Make ``fn(cfg)`` a command's ``main(argv=None)``: compose conf/<config_name>.yaml with the
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
