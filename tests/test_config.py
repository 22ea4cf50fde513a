"""Every config option composes; the config tree is what the README and docs/design.md say."""

from pathlib import Path

import pytest
from conftest import CONF
from omegaconf import OmegaConf

GROUPS = {
    g.name: sorted(p.stem for p in g.glob("*.yaml")) for g in Path(CONF).iterdir() if g.is_dir()
}
OPTIONS = [
    (g, o) for g, opts in GROUPS.items() if g not in ("hydra", "paths", "tune_space") for o in opts
]


@pytest.mark.parametrize(("group", "option"), OPTIONS)
def test_every_option_composes_and_resolves(cfg_factory, group, option):
    """Every option of train's groups (tune_space is gan-lab tune's: test_tune.py composes it)."""
    cfg = cfg_factory(f"{group}={option}", tiny=False)
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)


def test_noise_parameters_override(cfg_factory):
    cfg = cfg_factory("noise=gamma", "noise.shape=3", "noise.scale=0.5")
    assert cfg.noise.shape == 3 and cfg.noise.scale == 0.5


def test_run_dirs_are_unique_to_the_microsecond():
    text = (Path(CONF) / "hydra" / "default.yaml").read_text()
    assert "%f" in text and "${hydra.job.num}" in text
