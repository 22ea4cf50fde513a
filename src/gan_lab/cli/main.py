"""gan-lab: a GAN laboratory for small-data experiments, on PyTorch Lightning and Hydra.

    gan-lab <command> [group=option ...] [key=value ...]
    gan-lab <command> --help        what the command does, its groups and keys
    gan-lab <command> --cfg job     the composed config, without running

python -m gan_lab <command> ... is the same program. data/ and outputs/ are found in the folder
gan-lab is started in. README.md has a section on each command.
"""

import importlib
import sys
from collections.abc import Sequence

import hydra
from omegaconf import DictConfig

import gan_lab.config  # noqa: F401  (registers the resolvers the configs use)
from gan_lab import __version__
from gan_lab.config import to_dict
from gan_lab.errors import friendly
from gan_lab.runs import layout


# The two Hydra apps: groups, -m sweeps, --cfg, --help (its text: conf/hydra/help/). Hydra finds
# the configs inside the package, installed or not ("conf" next to gan_lab/cli/ → gan_lab.conf).
@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@friendly
def train_app(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from gan_lab.train import train

    # The arguments as typed: a resume compares them with the checkpoint's config.
    train(cfg, overrides=list(HydraConfig.get().overrides.task))


@hydra.main(version_base="1.3", config_path="../conf", config_name="invert")
@friendly
def invert_app(cfg: DictConfig) -> None:
    from gan_lab.latent.run import run

    run(to_dict(cfg))


def _known_keys_first(config_name: str) -> None:
    """A key the config does not have is one paragraph and exit 2 (Hydra's own message would be
    several lines and exit 1). Composed once more before Hydra does (a fraction of a second);
    sweeps (-m) and Hydra's own flags are left to Hydra."""
    from gan_lab.config import compose
    from gan_lab.errors import UserError

    args = sys.argv[1:]
    if any(a.startswith("-") for a in args):
        return
    try:
        keep = [a for a in args if not a.startswith("hydra") or a.startswith("hydra.searchpath")]
        compose(config_name, keep)
    except UserError as err:
        if "is not a key of this config" in str(err):
            print(f"\ngan-lab: {err}\n", file=sys.stderr)
            sys.exit(2)


def train_main() -> None:
    from gan_lab.config import experiment_file

    sys.argv = [sys.argv[0], *experiment_file(sys.argv[1:])]  # experiment=<a tuned recipe>
    _known_keys_first("train")
    train_app()


def invert_main() -> None:
    _known_keys_first("invert")
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
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(
            f"gan-lab: '{name}' is not a command; the commands are {', '.join(COMMANDS)} "
            "(gan-lab --help says what each does).",
            file=sys.stderr,
        )
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
