"""Shared fixtures: composed configs (Hydra state cleared each time) and one tiny trained run."""

import os
import tempfile
from pathlib import Path

import pytest
from omegaconf import DictConfig, open_dict

from gan_lab.cli import compose

ROOT = Path(__file__).resolve().parents[1]

# Decoded-folder caches of the tests (and of the runs they start) go to a temporary folder, never
# to the user's ~/.cache/gan-lab.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="gan-lab-test-cache-")
CONF = ROOT / "src" / "gan_lab" / "conf"

# A run small enough for the test suite (conf/debug/tiny.yaml): 128 built-in images, 4 steps an
# epoch, metrics off (tests that score switch them on themselves: Inception would be slow here).
TINY = ["debug=tiny"]


def make_cfg(output_dir: Path, overrides: list[str] = ()) -> DictConfig:
    return compose("train", overrides, output_dir=output_dir)


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
