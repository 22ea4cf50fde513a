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


def register_resolvers() -> None:
    for name, fn in (("project_root", project_root), ("run_dir", run_dir)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


def to_dict(cfg: DictConfig) -> dict:
    return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)


register_resolvers()
