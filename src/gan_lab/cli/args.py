"""The command line as people type it → arguments Hydra's grammar reads as they were meant.

A shell leaves ``~`` after ``=`` alone (``data.root=~/pics``), and a folder called
``my pics (2)`` or ``Gemälde, 1890=1899`` has characters that Hydra's override grammar reads as
syntax (spaces, brackets, commas, ``=``, quotes). Every command passes its arguments through
:func:`as_typed` once, before Hydra or :func:`gan_lab.config.compose` sees them: the value of a
key that names a file or folder (the schema's ``path`` rules, and invert's inputs) gets ``~`` and
``~user`` expanded and is put in one layer of Hydra quotes. Other values are left as typed; a
value already quoted (it starts and ends with the same quote) and an interpolation are left
alone; a list (``[a,b]``, unless a file or folder of that very name exists) has each item
expanded and quoted. In a sweep (``-m``),
a comma in a path value that names no existing file separates the sweep's values, each quoted.

``--data folder`` (argparse style) is refused with the key=value form to type instead
(:func:`refuse_flags`), since Hydra would print its own usage and exit 1.
"""

import os
import re
from collections.abc import Sequence
from functools import cache

from gan_lab.errors import UserError

# Hydra's own flags (hydra/_internal/utils.py get_args_parser) and the dispatcher's.
HYDRA_FLAGS = frozenset(
    {
        "-h",
        "--help",
        "--hydra-help",
        "--version",
        "-c",
        "--cfg",
        "--resolve",
        "-p",
        "--package",
        "-i",
        "--info",
        "-m",
        "--multirun",
        "-cp",
        "--config-path",
        "-cn",
        "--config-name",
        "-cd",
        "--config-dir",
        "-sc",
        "--shell-completion",
        "--experimental-rerun",
    }
)
# Keys that name a file or folder but have no rule of their own in the schema (invert's inputs;
# experiment= takes a study folder or a tuned recipe's file; an extractor is inception, auto or a
# file of gan-lab extractor).
OTHER_PATH_KEYS = (
    *("ckpt_b", "target", "target_b", "z", "z_b", "dir", "audit.report", "experiment"),
    *("extractor", "metrics.extractor", "tune.extractor"),
)


@cache
def path_keys() -> frozenset[str]:
    """Every key whose value is a file or folder: the schema's ``path`` rules, in every table."""
    from gan_lab.config import schema

    keys = set(OTHER_PATH_KEYS)
    for table in vars(schema).values():
        if isinstance(table, dict):
            keys |= {
                k
                for k, rule in table.items()
                if isinstance(rule, schema.Rule) and rule.what == schema.path("").what
            }
    return frozenset(keys)


def quote(value: str) -> str:
    """``value`` as one Hydra quoted string: a quote is escaped, and so is a backslash run that
    ends the value or stands before a quote (the only places Hydra reads a backslash as one)."""
    value = re.sub(r"(\\+)(?='|$)", lambda m: m.group(1) * 2, value)
    return "'" + value.replace("'", "\\'") + "'"


def _expanded(value: str) -> str:
    return os.path.expanduser(value) if value.startswith("~") else value


def _quoted(value: str) -> bool:
    return len(value) > 1 and value[0] in "'\"" and value[-1] == value[0]


def _split(text: str) -> list[str]:
    """``text`` split at its commas, except inside an item that starts with a quote (a quote
    within a name, as in it's.png, is a character of the name)."""
    items, item, quote_char, escaped = [], "", None, False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quote_char:
            escaped = True
        elif char in "'\"" and quote_char is None and not item.strip():
            quote_char = char
        elif char == quote_char:
            quote_char = None
        elif char == "," and quote_char is None:
            items, item = [*items, item], ""
            continue
        item += char
    return [*items, item]


def _path_value(value: str, multirun: bool) -> str:
    if _quoted(value):
        return value
    if value.startswith("[") and value.endswith("]") and not os.path.exists(_expanded(value)):
        # A list (invert's compare takes several targets): each item expanded and quoted.
        items = [v.strip() for v in _split(value[1:-1])] if value[1:-1].strip() else []
        return "[" + ",".join(v if _quoted(v) else quote(_expanded(v)) for v in items) + "]"
    if value in ("null", "None", ""):
        return value
    if multirun and "," in value and not os.path.exists(_expanded(value)):
        return ",".join(quote(_expanded(v)) for v in value.split(","))
    return quote(_expanded(value))


_KEY = re.compile(r"[+~]{0,2}[A-Za-z_][\w.@/-]*")


def is_key_value(arg: str) -> bool:
    """``key=value`` (a config key before the first =), not a folder whose name holds an =."""
    key, sep, _ = arg.partition("=")
    return bool(sep) and _KEY.fullmatch(key) is not None and "/" not in key.lstrip("+~")


def as_typed(args: Sequence[str]) -> list[str]:
    """The arguments with every path value expanded and quoted for Hydra (module docstring);
    ``+key=`` of a key the config already has becomes ``key=`` (Hydra would refuse to add it
    twice: ``+trainer.max_time=1h`` of earlier README versions)."""
    args = [str(a) for a in args]
    multirun = "-m" in args or "--multirun" in args
    keys, out = path_keys(), []
    for arg in args:
        key, sep, value = arg.partition("=")
        bare = key.lstrip("+~")
        if not is_key_value(arg) and arg.startswith("~"):  # a bare folder (gan-lab report ~/x)
            out.append(os.path.expanduser(arg))
            continue
        if not is_key_value(arg) or arg.startswith("-") or bare.startswith("hydra"):
            out.append(arg)
            continue
        if key.startswith("+") and not key.startswith("++") and _known(bare):
            key = bare
        out.append(f"{key}={_path_value(value, multirun) if bare in keys else value}")
    return out


def _known(key: str) -> bool:
    from gan_lab.config.schema import TRAIN

    return key in TRAIN


def refuse_flags(args: Sequence[str], command: str) -> None:
    """``--data folder`` / ``--data=folder``: one paragraph with the key=value form instead."""
    for i, arg in enumerate(args):
        flag, _, given = str(arg).partition("=")
        if not flag.startswith("-") or flag in HYDRA_FLAGS:
            continue
        value = given or (args[i + 1] if i + 1 < len(args) else "...")
        key = flag.lstrip("-").replace("-", "_")
        raise UserError(
            f"gan-lab {command} takes key=value arguments, not {flag}: write {key}={value} "
            f"(e.g. gan-lab {command} data=folder data.root=~/pics). gan-lab {command} --help "
            "lists the groups and keys."
        )


# The commands that read one folder, and the key that names it: each also takes the folder bare
# (gan-lab score outputs/x is gan-lab score run_dir=outputs/x), one style for all of them.
FOLDER_KEYS = {"score": "run_dir", "summarize": "dir", "report": "dir"}


def bare_folder(command: str, args: Sequence[str]) -> list[str]:
    """A bare folder argument of a folder command → its key=value form (FOLDER_KEYS)."""
    key = FOLDER_KEYS.get(command)
    if key is None:
        return list(args)
    return [a if is_key_value(a) or a.startswith("-") else f"{key}={a}" for a in map(str, args)]


def unquoted(value: str) -> str:
    """A value as Hydra reads it (the quotes of :func:`quote` taken off): for the commands that
    read their arguments without composing a config (gan-lab report)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    if not value.startswith(("'", '"')):
        return value
    return str(OverridesParser.create().parse_override(f"x={value}").value())


# One name for the output folder (out_dir=) and one for the device (device=) in every command:
# the commands whose own keys are spelled otherwise take these too, rewritten here.
OUT_DIR_KEYS = {"preview": "preview.out_dir", "tune": "tune.dir"}


def _device_args(value: str) -> list[str]:
    """``device=`` for train: auto, cpu, cuda (gpu), cuda:N, mps → Lightning's trainer keys."""
    value = value.strip("'\"")
    if value.startswith(("cuda:", "gpu:")) and value.split(":", 1)[1].isdigit():
        return ["trainer.accelerator=gpu", f"trainer.devices=[{value.split(':', 1)[1]}]"]
    accelerator = {"cuda": "gpu"}.get(value, value)
    return [f"trainer.accelerator={accelerator}"]


SEEDS_KEY = "sweep.seeds"


def seed_axis(command: str, args: Sequence[str]) -> list[str]:
    """``sweep.seeds=N`` on a ``-m`` command line → the sweep axis ``seed=0,…,N-1`` added (the key
    itself stays, as the runs' record). Refused in one paragraph without -m, beside a ``seed=``
    of other values, and outside train (gan-lab tune re-trains on seeds with tune.confirm_seeds).
    Applied again to its own output it changes nothing (the dispatcher and train.py both call it)."""
    args = list(map(str, args))
    given = [a for a in args if a.lstrip("+").partition("=")[0] == SEEDS_KEY]
    if not given:
        return args
    value = given[-1].partition("=")[2].strip("'\"")
    # isdigit alone takes '²' (int() then raises) and '１２': ASCII digits only
    if not (value.isascii() and value.isdigit()) or int(value) > 1000:
        raise UserError(
            f"{given[-1]} is not a number of seeds: sweep.seeds=N takes a whole number from 0 "
            "to 1000 (with -m, sweep.seeds=3 runs every setting on seeds 0, 1 and 2)."
        )
    n = int(value)
    if command != "train":
        if command == "tune" and n:
            raise UserError(
                f"{given[-1]} is for gan-lab train -m; gan-lab tune re-trains its best recipe "
                "and its starting point on several seeds with tune.confirm_seeds=N."
            )
        return args
    if n == 0:
        return args
    if "-m" not in args and "--multirun" not in args:
        raise UserError(
            f"{given[-1]} adds the sweep axis seed=0,…,{n - 1}, which only a multirun runs: add "
            f"-m (gan-lab train -m {given[-1]} model.lr_g=2e-4,1e-4 runs each learning rate on "
            f"{n} seeds, and the sweep's summary gives each setting an interval). A single run "
            "takes one seed: seed=<n>."
        )
    axis = ",".join(str(i) for i in range(n))
    seeds = [a for a in args if a.lstrip("+").partition("=")[0] == "seed"]
    if any(a.partition("=")[2].strip("'\"") != axis for a in seeds):
        raise UserError(
            f"{given[-1]} and {seeds[0]} both set the seeds of the sweep: give one of them "
            f"({given[-1]} is seed={axis}; for other seeds, -m seed=<a>,<b>,<c> alone)."
        )
    if seeds:
        return args
    at = args.index(given[-1]) + 1  # beside it: Hydra reads the overrides as one run of words
    return [*args[:at], f"seed={axis}", *args[at:]]


def common_names(command: str, args: Sequence[str]) -> list[str]:
    """``out_dir=`` and ``device=`` in every command (OUT_DIR_KEYS; train's device → its
    trainer.accelerator and trainer.devices); ``sweep.seeds=N`` (:func:`seed_axis`)."""
    args = seed_axis(command, args)
    out = []
    for arg in map(str, args):
        key, sep, value = arg.partition("=")
        if sep and key == "out_dir" and command in OUT_DIR_KEYS:
            out.append(f"{OUT_DIR_KEYS[command]}={value}")
        elif sep and key == "device" and command == "train":
            out += _device_args(value)
        else:
            out.append(arg)
    return out
