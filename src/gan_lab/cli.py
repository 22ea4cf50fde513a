"""Shared plumbing of the `python -m gan_lab.<tool> group=option key=value` commands."""

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf import DictConfig, open_dict

from gan_lab.config import project_root
from gan_lab.errors import UserError


def compose_tool_config(
    config_name: str, argv: list[str], output_dir: str | None = None
) -> DictConfig:
    """Compose conf/<config_name>.yaml with Hydra overrides, outside of a Hydra run."""
    conf_dir = Path(project_root()) / "conf"
    if not conf_dir.is_dir():
        raise UserError(
            f"cannot find the config folder {conf_dir}; run gan-lab tools from its checkout."
        )
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
            cfg = compose(config_name=config_name, overrides=list(argv))
    except HydraException as err:
        raise UserError(f"bad arguments {argv}: {err}") from None
    finally:
        GlobalHydra.instance().clear()
    with open_dict(cfg):
        cfg.paths.output_dir = output_dir or str(Path("outputs") / config_name)
    return cfg
