"""Shared fixtures: composed configs (Hydra state cleared each time) and one tiny trained run."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

import gan_lab.config  # noqa: F401  (resolvers)

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"

# A run small enough for the test suite: 128 built-in images, 4 steps an epoch.
TINY = [
    "data.num_images=128",
    "data.batch_size=32",
    "model.n_fixed=16",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "callbacks.checkpoint.every_n_epochs=1",
    "metrics=off",  # tests that score switch metrics on themselves (Inception would be slow here)
]


def make_cfg(output_dir: Path, overrides: list[str] = ()) -> DictConfig:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=list(overrides))
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
    GlobalHydra.instance().clear()
    return cfg


def bare(cfg: DictConfig) -> DictConfig:
    """No callbacks and no logger: for tests that watch the optimisers themselves."""
    with open_dict(cfg):
        cfg.callbacks, cfg.logger = {}, {}
    return cfg


@pytest.fixture
def cfg_factory(tmp_path):
    def factory(*overrides: str, tiny: bool = True, out: Path | None = None) -> DictConfig:
        return make_cfg(out or tmp_path / "run", (TINY if tiny else []) + list(overrides))

    return factory


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A 2-epoch run on the built-in set; tests read its files but never write into it."""
    from gan_lab.train import train

    out = tmp_path_factory.mktemp("trained") / "run"
    train(make_cfg(out, TINY + ["trainer.max_epochs=2"]))
    return out
