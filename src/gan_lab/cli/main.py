"""gan-lab: a GAN laboratory for small-data experiments, on PyTorch Lightning and Hydra.

    gan-lab <command> [group=option ...] [key=value ...]
    gan-lab <command> --help        what the command does, its groups and keys
    gan-lab <command> --cfg job     the composed config, without running

python -m gan_lab <command> ... is the same program. data/ and outputs/ are found in the folder
gan-lab is started in. docs/ has a page on each command (README.md links them).
"""

import importlib
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path

import hydra
from omegaconf import DictConfig

import gan_lab.config  # noqa: F401  (registers the resolvers the configs use)
from gan_lab import __version__
from gan_lab.cli.args import as_typed, bare_folder, common_names, refuse_flags
from gan_lab.config import CONF_DIR, to_dict
from gan_lab.errors import UserError, friendly
from gan_lab.runs import layout


# The two Hydra apps: groups, -m sweeps, --cfg, --help (its text: conf/hydra/help/). Hydra finds
# the configs inside the package, installed or not ("conf" next to gan_lab/cli/ → gan_lab.conf).
def _refused(err: BaseException) -> bool:
    """A start the checks refused (a UserError before training), not a run that stopped."""
    from gan_lab.errors import TrainingStopped, user_error

    said = user_error(err)
    return said is not None and not isinstance(said, TrainingStopped)


def _no_folder_left(app: Callable) -> Callable:
    """A start refused before any work leaves no run folder behind (Hydra made it, recorded the
    config and opened the log first: gan_lab.runs.unstarted). A sweep's job keeps its folder:
    the sweep's summary lists it as failed."""

    @wraps(app)
    def wrapper(cfg: DictConfig) -> None:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        from gan_lab.runs.unstarted import remove_session_record, remove_unstarted

        hydra_cfg = HydraConfig.get()
        try:
            app(cfg)
        except BaseException as err:
            if hydra_cfg.mode != RunMode.MULTIRUN:
                run = Path(hydra_cfg.runtime.output_dir)
                if not remove_unstarted(run) and _refused(err):
                    # A refused resume leaves the run as it was: no record of a session that
                    # never trained (.hydra/sessions/<time>/, gan_lab.runs.layout.hydra_subdir).
                    remove_session_record(run, str(hydra_cfg.output_subdir or ""))
            raise

    return wrapper


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@_no_folder_left
@friendly
def train_app(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from gan_lab.training.train import train

    # The arguments as typed: a resume compares them with the checkpoint's config.
    train(cfg, overrides=list(HydraConfig.get().overrides.task))


@hydra.main(version_base="1.3", config_path="../conf", config_name="invert")
@_no_folder_left
@friendly
def invert_app(cfg: DictConfig) -> None:
    from gan_lab.latent.run import run

    run(to_dict(cfg))


def _sweep_variants(args: list[str]) -> list[list[str]]:
    """A sweep's (-m) command lines to check: each value of each swept key once, the other keys
    at their first value (a bad option anywhere in the sweep is found before any job starts)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser, axes = OverridesParser.create(), []
    for i, arg in enumerate(args):
        try:
            override = parser.parse_override(arg)
        except HydraException:
            continue  # compose() names the unreadable argument
        if override.is_sweep_override() and not override.is_hydra_override():
            key = arg.split("=", 1)[0]
            values = [f"{key}={v}" for v in _sweep_values(override)]
            if values:
                axes.append((i, values))
    first = list(args)
    for i, values in axes:
        first[i] = values[0]
    variants = [first]
    for i, values in axes:
        variants += [[*first[:i], v, *first[i + 1 :]] for v in values[1:]]
    return variants


def _sweep_values(override) -> list[str]:
    try:
        return [str(v) for v in override.sweep_string_iterator()]
    except Exception:  # noqa: BLE001 — an interval (a tuner's search space) has no list of values
        return []


def _readable(args: list[str]) -> None:
    """Each argument as Hydra's grammar reads it, or one paragraph: compose() would quote a
    value Hydra cannot read (data.name=my set (2)), and Hydra itself would then refuse it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create()
    for arg in args:
        try:
            parser.parse_override(arg)
        except HydraException as err:
            said = " ".join(str(err).split()).split(" See https://hydra.cc")[0].rstrip(".")
            key, _, value = arg.partition("=")
            raise UserError(
                f"{arg} cannot be read: {said}. Quote a value that holds spaces, brackets, "
                f"commas or quotes ({key}='{value}'); --help lists the groups and keys."
            ) from None


# What ~key may remove: the loggers and callbacks (as logger=none, callbacks=none do). Every
# other key is read by the run (~model crashed it, ~trainer.max_epochs trained 1000 epochs).
REMOVABLE = ("logger", "callbacks")


def _no_removals(args: list[str]) -> None:
    for arg in args:
        key = arg.partition("=")[0]
        if key.startswith("~") and key.lstrip("~").split(".")[0] not in REMOVABLE:
            raise UserError(
                f"{key} would remove {key.lstrip('~')}, which gan-lab reads: give it a value "
                "instead (null where the key takes one; a group's option such as metrics=off, "
                "logger=none or callbacks=none). --help lists the groups and keys."
            )


def _no_links_where_hydra_writes(ckpt) -> None:
    """Hydra writes into a resumed run's folder (train.log, .hydra/sessions/) and into the folder
    of the run an inversion reads (inversions/) before gan-lab runs: a link there is refused
    first (gan_lab.runs.files.check_no_links), so that nothing is written through it."""
    from gan_lab.runs import layout
    from gan_lab.runs.files import check_no_links

    if ckpt in (None, "", "None", "null"):
        return
    best = layout.parse_best(str(ckpt))
    if best is not None:
        check_no_links(best.expanduser())
    elif layout.in_checkpoints(Path(str(ckpt)).expanduser()):
        # As spelled first: a linked checkpoints/ must not move the run into another folder.
        check_no_links(layout.run_of(ckpt), ckpt)  # (a loose checkpoint starts a folder of its own)


HELP_HEADERS = {
    "train": f"""gan-lab train [group=option ...] [key=value ...]   (= python train.py)

Train a GAN on the built-in shapes, MNIST, cakes, cars, Monet or any folder of images
(data=folder data.root=~/pics). Every run writes a folder outputs/<date>/<time>/ with
checkpoints, sample grids, CSVs, TensorBoard events and {layout.REPORT}. -m sweeps over
comma-separated values (gan-lab train -m noise=normal,uniform); the same command plus
ckpt_path={layout.last_checkpoint("<run>")} resumes. --hydra-help shows Hydra's own flags.""",
    "invert": f"""gan-lab invert ckpt=<checkpoint> target=<image> [mode=invert|edit|interpolate|compare|jitter]
(= python invert.py)

Project an image into a trained generator's latent space, edit coordinates, interpolate between
two images, compare two generators or change a vector's coordinates at random (jitter); the files
go beside the run ({layout.inversions_dir("<run>")}/<time>/).""",
}


def check_first(config_name: str) -> None:
    """Every mistake the command line can hold, as one paragraph and exit 2, before Hydra starts
    (Hydra would print several lines, exit 1 and leave a run folder): argparse-style flags, a
    group option or key that does not exist, an unreadable value, a value the schema refuses, an
    accelerator this machine lacks. Paths are expanded and quoted first (gan_lab.cli.args).
    Composed once more per checked line (a fraction of a second); Hydra's own flags (--help,
    --cfg, ...) are left to Hydra."""
    from gan_lab.config import compose
    from gan_lab.config.validate import check_config
    from gan_lab.errors import UserError
    from gan_lab.hardware import check_accelerator
    from gan_lab.training.distributed import check_trainer

    command, multirun = config_name, False
    if "--help" in sys.argv[1:] or "-h" in sys.argv[1:]:  # the schema's words, not raw YAML
        from gan_lab.cli import tool_help

        doc = (train_app if config_name == "train" else invert_app).__doc__
        print(tool_help(config_name, doc or HELP_HEADERS[config_name]))
        sys.exit(0)
    try:
        refuse_flags(sys.argv[1:], command)
        sys.argv = [sys.argv[0], *as_typed(common_names(config_name, sys.argv[1:]))]
        args = sys.argv[1:]
        multirun = "-m" in args or "--multirun" in args
        if any(a.startswith("-") and a not in ("-m", "--multirun") for a in args):
            return
        for arg in args:  # a launcher is a Hydra group of its own: its options are files too
            group, _, option = arg.lstrip("+").partition("=")
            launchers = (
                "basic",
                *(p.stem for p in (CONF_DIR / "hydra" / "launcher").glob("*.yaml")),
            )
            if group == "hydra/launcher" and option not in launchers:
                raise UserError(
                    f"hydra/launcher={option} is not a launcher here; the options are "
                    f"{', '.join(launchers)} (docs: Sweeps)."
                )
        keep = [
            a
            for a in args
            if not a.startswith("-")
            and (not a.startswith("hydra") or a.startswith("hydra.searchpath"))
        ]
        _readable(keep)
        _no_removals(keep)
        for line in _sweep_variants(keep) if multirun else [keep]:
            cfg = compose(config_name, line)
            if config_name == "train":
                check_config(cfg)
                check_accelerator(cfg.trainer.get("accelerator", "auto"))
                check_trainer(to_dict(cfg.trainer))
            _no_links_where_hydra_writes(cfg.get("ckpt_path") or cfg.get("ckpt"))
    except UserError as err:
        swept = not multirun and any("," in a.partition("=")[2] for a in sys.argv[1:] if "=" in a)
        hint = " (To sweep over comma-separated values, add -m.)" if swept else ""
        print(f"\ngan-lab: {err}{hint}\n", file=sys.stderr)
        sys.exit(2)


def train_main() -> None:
    from gan_lab.config import experiment_file

    sys.argv = [sys.argv[0], *experiment_file(sys.argv[1:])]  # experiment=<a tuned recipe>
    check_first("train")
    train_app()


def invert_main() -> None:
    check_first("invert")
    invert_app()


# name → (module:function, one line): each command's module in gan_lab/cli/. Every function reads
# sys.argv[1:] (its key=value arguments).
COMMANDS = {
    "train": (
        "gan_lab.cli.main:train_main",
        "train a GAN (the default: the built-in set, minutes)",
    ),
    "invert": (
        "gan_lab.cli.main:invert_main",
        "project an image into G's latent space; edit, interpolate, compare",
    ),
    "sample": ("gan_lab.cli.sample:main", "write PNGs drawn from a checkpoint"),
    "score": (
        "gan_lab.cli.score:main",
        f"FID/KID/IS of every checkpoint of a run → {layout.SCORES_CSV}, {layout.BEST}",
    ),
    "audit": (
        "gan_lab.cli.audit:main",
        "check an image folder: broken, tiny, odd and duplicate files",
    ),
    "preview": (
        "gan_lab.cli.preview:main",
        "a batch, augmentations and pixel statistics of a data set",
    ),
    "report": (
        "gan_lab.cli.report:main",
        f"{layout.REPORT} of a run, sweep or inversion folder",
    ),
    "summarize": (
        "gan_lab.cli.summarize:main",
        "the table and picture of a sweep (multirun folder)",
    ),
    "extractor": (
        "gan_lab.cli.extractor:main",
        "train a feature extractor on your set, for FID in its space",
    ),
    "cost": ("gan_lab.cli.cost:main", "seconds and memory of FID/KID/IS on this machine"),
    "tune": (
        "gan_lab.cli.tune:main",
        f"search the recipe for a set within a time budget → {layout.BEST_RECIPE}",
    ),
}


def shell_completion(args: list[str]) -> int:
    """Hydra's shell completion through the one ``gan-lab`` command (README, "Commands"):
    ``eval "$(gan-lab -sc install=bash)"`` registers completion for ``gan-lab``; the shell then
    asks ``gan-lab -sc query=bash`` with the line typed, whose command word (train, invert) picks
    the app and is taken out of the line Hydra completes. The command names complete too."""
    import os

    line = os.environ.get("COMP_LINE", "")
    words = line.split()
    if any(a.startswith("query") for a in args):
        if len(words) < 2 or (len(words) == 2 and not line.endswith(" ")):
            typed = words[1] if len(words) == 2 else ""
            print(" ".join(n for n in COMMANDS if n.startswith(typed)))
            return 0
        if words[1] not in ("train", "invert"):
            return 0  # the tools read key=value without a config tree to complete from
        os.environ["COMP_LINE"] = line.replace(f" {words[1]}", "", 1)
        app = train_app if words[1] == "train" else invert_app
    else:
        app = train_app  # install=bash | uninstall=bash: the script names the program
    sys.argv = ["gan-lab", "-sc", *args]
    try:
        app()
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else 0
    return 0


def overview() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {line}" for name, (_, line) in COMMANDS.items()]
    return f"{__doc__.strip()}\n\nCommands:\n" + "\n".join(lines) + f"\n\ngan-lab {__version__}"


def main(argv: Sequence[str] | None = None) -> int | None:
    """``gan-lab <command> ...``: run the command's own main with the rest of the arguments."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(overview())
        return 0
    if argv[0] == "--version":
        print(f"gan-lab {__version__}")
        return 0
    if argv[0] in ("-sc", "--shell-completion"):
        return shell_completion(argv[1:])
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(
            f"gan-lab: '{name}' is not a command; the commands are {', '.join(COMMANDS)} "
            "(gan-lab --help says what each does).",
            file=sys.stderr,
        )
        return 2
    if "--version" in rest:  # gan-lab's version, not Hydra's (which train's app would print)
        print(f"gan-lab {__version__}")
        return 0
    try:
        refuse_flags(rest, name)
        # ~ expanded, paths quoted, out_dir=/device=/sweep.seeds= spelled out (gan_lab.cli.args)
        rest = as_typed(common_names(name, bare_folder(name, rest)))
    except UserError as err:
        print(f"\ngan-lab: {err}\n", file=sys.stderr)
        return 2
    module, function = COMMANDS[name][0].split(":")
    run = getattr(importlib.import_module(module), function)
    # Hydra and the tools read sys.argv; the program name is what --help and errors show.
    sys.argv = [f"gan-lab {name}", *rest]
    try:
        run()
    except SystemExit as done:  # Hydra's --help, a tool's exit 2: the command's own exit code
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
