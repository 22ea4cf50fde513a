"""Configuration: composition helpers and the OmegaConf resolvers conf/ uses (registered on
import) here; the schema of every user-facing key (schema.py), the checks against it for the
command line and for a checkpoint's stored config (validate.py), and the classes a config may build
by name (registry.py)."""

import re
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from gan_lab.distributed import ddp_start_method
from gan_lab.runs import layout

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # gan_lab/ (this is gan_lab/config/__init__.py)


CONF_DIR = PACKAGE_DIR / "conf"  # the YAML configs, inside the package (installed or not)


def cwd() -> str:
    """The folder gan-lab was started in: data/ and outputs/ are found there by default, whether
    gan-lab is installed or run from its checkout."""
    return str(Path.cwd())


def run_dir(ckpt_path, default: str) -> str:
    """A resumed run writes into the run folder of its checkpoint (<run>/checkpoints/x.ckpt, or
    best@<run> / <run>/best: gan_lab.score's choice). A checkpoint that is not in a run's
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
    best = layout.parse_best(ckpt)  # ckpt=best@<run_dir> (gan_lab.score's choice)
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


register_resolvers()
