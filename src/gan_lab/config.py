"""OmegaConf resolvers used by conf/ (registered on import) and config helpers."""

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> str:
    """The checkout holding pyproject.toml (editable install), else the working directory."""
    candidate = PACKAGE_DIR.parents[1]
    return str(candidate if (candidate / "pyproject.toml").exists() else Path.cwd())


def run_dir(ckpt_path, default: str) -> str:
    """A resumed run writes into the run folder of its checkpoint (<run>/checkpoints/x.ckpt)."""
    if ckpt_path in (None, "", "None", "null"):
        return default
    return str(Path(str(ckpt_path)).expanduser().resolve().parent.parent)


def inversion_dir(ckpt) -> str:
    """invert.py writes beside the run it inverts: <run>/inversions/, else outputs/inversions/."""
    path = Path(str(ckpt)).expanduser() if ckpt not in (None, "", "None", "null") else None
    if path is not None and path.is_file() and path.parent.name == "checkpoints":
        return str(path.resolve().parent.parent / "inversions")
    return "outputs/inversions"


def register_resolvers() -> None:
    resolvers = (("project_root", project_root), ("run_dir", run_dir))
    resolvers += (("inversion_dir", inversion_dir),)
    for name, fn in resolvers:
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


def to_dict(cfg: DictConfig) -> dict:
    return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)


register_resolvers()
