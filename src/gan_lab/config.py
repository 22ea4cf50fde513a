"""OmegaConf resolvers used by conf/ (registered on import) and config helpers."""

import re
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from gan_lab.distributed import ddp_start_method

PACKAGE_DIR = Path(__file__).resolve().parent


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
    spec = str(ckpt_path)
    if spec.startswith("best@"):
        return str(Path(spec[len("best@") :]).expanduser().resolve())
    path = Path(spec).expanduser()
    if path.name == "best" and not path.exists():
        return str(path.resolve().parent)
    if path.resolve().parent.name != "checkpoints":
        return default
    return str(path.resolve().parent.parent)


def inversion_dir(ckpt) -> str:
    """invert.py writes beside the run it inverts: <run>/inversions/, else outputs/inversions/."""
    if ckpt in (None, "", "None", "null"):
        return "outputs/inversions"
    spec = str(ckpt)
    if spec.startswith("best@"):  # ckpt=best@<run_dir> (gan_lab.score's choice)
        return str(Path(spec[5:]).expanduser().resolve() / "inversions")
    path = Path(spec).expanduser()
    if path.is_file() and path.parent.name == "checkpoints":
        return str(path.resolve().parent.parent / "inversions")
    return "outputs/inversions"


def hydra_subdir(output_dir: str, stamp: str) -> str:
    """Where Hydra records this session's config: .hydra/ for the first session in a run folder;
    a resume (or any later session there) writes .hydra/sessions/<stamp>/, so the config and the
    overrides the run started with — which the sweep table and the report read — are never
    overwritten by a resume's arguments."""
    if (Path(output_dir) / ".hydra" / "config.yaml").exists():
        return f".hydra/sessions/{stamp}"
    return ".hydra"


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
