"""Shared fixtures: composed configs (Hydra state cleared each time) and one tiny trained run."""

import atexit
import copy
import logging
import os
import pickle
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig, open_dict

from gan_lab.config import compose

ROOT = Path(__file__).resolve().parents[1]

# One intra-op thread for torch in the test process and in every process a test starts (train.py,
# invert.py, DDP ranks inherit OMP_NUM_THREADS): the suite's networks are tiny, so a second thread
# buys little, and on a 2-core machine with anything else running, two spinning OpenMP threads
# per process made `make test` 2-4x slower (test_trust + test_fast_path: 36-39 s with one thread,
# 44-184 s with two, on the same busy machine). Set OMP_NUM_THREADS yourself to override.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

# Decoded-folder caches of the tests (and of the runs they start) go to a temporary folder, never
# to the user's ~/.cache/gan-lab; the folder goes when the session ends.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="gan-lab-test-cache-")
atexit.register(shutil.rmtree, os.environ["XDG_CACHE_HOME"], ignore_errors=True)
CONF = ROOT / "src" / "gan_lab" / "conf"

# A run small enough for the test suite (conf/debug/tiny.yaml): 128 built-in images, 4 steps an
# epoch, metrics off (tests that score switch them on themselves: Inception would be slow here).
TINY = ["debug=tiny"]
# For tests that train but look at none of the extras: no TensorBoard events, no GIF, no report
# (run.json, preview/, report.html), no losses.png; each may change on a resume. Tests of those
# files keep them.
QUIET = [
    "logger=none",
    "callbacks.samples.gif=false",
    "callbacks.report=null",
    "callbacks.history.plot=false",
]
# The bit-exact resume tests (test_trust, test_resume): every random stream in play (noise, label
# noise, DiffAugment, flips, rotations, the SSIM curve's schedule), a seed other than the default
# (ckpt_path= alone must take it from the checkpoint), 2 steps an epoch (SSIM at steps 3 and 6
# falls inside epochs 2 and 3).
RANDOM = [
    "trainer.deterministic=true",
    "seed=3",
    "model.diffaug=[translation,color,cutout]",
    "data.augment.flip=true",
    "data.augment.rotate=10",
    "metrics.ssim_every_n_steps=3",
    "data.num_images=64",
    *QUIET,
]


# Test-only speed hooks for work that is the same in every test (pure functions of their input):
# each test run composes ~550 configs and builds the built-in set ~100 times.
def _cached_yaml_load():
    """OmegaConf.load parses YAML in pure Python: every compose reads the same ~20 files of conf/
    again (~15 % of a compose). Parsed once per text here; each call still builds its own config."""
    import io
    import pathlib

    import yaml
    from omegaconf import OmegaConf
    from omegaconf._utils import get_yaml_loader

    parsed: dict[str, object] = {}

    def load(file_):
        if isinstance(file_, str | pathlib.Path):
            with open(os.path.abspath(file_), encoding="utf-8") as f:
                text, name = f.read(), f.name
        elif getattr(file_, "read", None):
            text, name = file_.read(), getattr(file_, "name", None)
        else:
            raise TypeError("Unexpected file type")
        if text not in parsed:
            stream = io.StringIO(text)
            stream.name = name or "<file>"  # yaml's messages name the file, as before
            parsed[text] = yaml.load(stream, Loader=get_yaml_loader())
        obj = copy.deepcopy(parsed[text])
        if obj is not None and not isinstance(obj, list | dict | str):
            raise OSError(f"Invalid loaded object type: {type(obj).__name__}")
        return OmegaConf.create() if obj is None else OmegaConf.create(obj)

    OmegaConf.load = staticmethod(load)


def _cached_builtin_set():
    """The built-in set is drawn from its own seeded generator (~0.1 s for 128 images): drawn
    once per (n, size, channels, seed), a copy each time."""
    import functools

    from gan_lab.data import builtin, datamodule

    drawn = functools.lru_cache(maxsize=32)(builtin.make_shapes)

    def make_shapes(*args, **kwargs):
        images, labels = drawn(*args, **kwargs)
        return images.clone(), labels.clone()

    datamodule.make_shapes = make_shapes


_cached_yaml_load()
_cached_builtin_set()


# Composed configs by override list: Hydra's compose costs ~0.25 s, and many tests share TINY and
# a few keys. Each caller gets its own copy; an override Hydra refuses is never cached. Kept
# pickled: ~300 composed configs of ~3,600 objects each would otherwise be walked by every full
# pass of the garbage collector for the rest of the session (and unpickling is 5x a deep copy).
_COMPOSED: dict[tuple[str, ...], bytes] = {}


def make_cfg(output_dir: Path, overrides: list[str] = ()) -> DictConfig:
    key = tuple(map(str, overrides))
    if key not in _COMPOSED:
        _COMPOSED[key] = pickle.dumps(compose("train", key))
    cfg = pickle.loads(_COMPOSED[key])
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
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
    from gan_lab.training.train import train

    out = tmp_path_factory.mktemp("trained") / "run"
    train(make_cfg(out, TINY + ["trainer.max_epochs=2"]))
    return out


@pytest.fixture(scope="session")
def uninterrupted(tmp_path_factory) -> Path:
    """3 epochs of RANDOM in one go: what every interrupted and resumed run of the bit-exact
    tests must end as (assert_same_run). Read, never written."""
    from gan_lab.training.train import train

    out = tmp_path_factory.mktemp("uninterrupted") / "run"
    train(make_cfg(out, [*TINY, *RANDOM, "trainer.max_epochs=3"]))
    return out


@pytest.fixture(scope="session")
def nan_runs(tmp_path_factory) -> dict:
    """model.nonfinite=rollback and =warn: a 3-epoch run each whose D loss is NaN at step 6 (the
    second step of epoch 2). mode → {"dir": the run folder, "cfg": its settled config, "said": the
    log messages}. test_trust reads the learning rates and the log, test_guard the run folder's
    history; neither writes into them."""
    from test_guard import NaNStep

    from gan_lab.training.train import train

    class Said(logging.Handler):
        def __init__(self):
            super().__init__(logging.INFO)
            self.messages: list[str] = []

        def emit(self, record):
            self.messages.append(record.getMessage())

    runs = {}
    root = logging.getLogger()
    for mode in ("rollback", "warn"):
        out = tmp_path_factory.mktemp(f"nan_{mode}") / "run"
        cfg = make_cfg(out, [*TINY, *QUIET, "trainer.max_epochs=3", f"model.nonfinite={mode}"])
        said, level = Said(), root.level
        root.addHandler(said)
        root.setLevel(logging.INFO)
        try:
            train(cfg, callbacks=[NaNStep(at_step=6, phases=("d",))])
        finally:
            root.removeHandler(said)
            root.setLevel(level)
        runs[mode] = {"dir": out, "cfg": cfg, "said": said.messages}
    return runs


def gan_lab_in_process(*args: str) -> int | None:
    """``gan-lab <command> ...`` in this process; returns the exit code.

    The same path as the installed command (gan_lab.cli.main.main, Hydra's app, the friendly
    wrapper) without a Python start-up and the torch/Lightning/Hydra imports (~5 s each on a busy
    2-core machine). One test per guarantee still starts the real process (train.py and invert.py
    exit 2, gan-lab sample, the slow tier's sweeps); this is for their siblings. What Hydra sets up
    globally (sys.argv, its singleton, the root logger's handlers) is put back afterwards.
    """
    from hydra.core.global_hydra import GlobalHydra

    from gan_lab.cli.main import main

    root = logging.getLogger()
    argv, handlers, level = sys.argv[:], root.handlers[:], root.level
    try:
        return main(list(args))
    finally:
        sys.argv = argv
        GlobalHydra.instance().clear()
        for handler in root.handlers:
            if handler not in handlers:
                handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.fixture
def gan_lab_cli(capsys):
    """gan_lab_in_process with what it printed: (exit code, stdout, stderr)."""

    def call(*args: str) -> tuple[int | None, str, str]:
        capsys.readouterr()
        code = gan_lab_in_process(*args)
        out = capsys.readouterr()
        return code, out.out, out.err

    return call


# The tiers (make test-unit, make test, make test-slow): a test that trains, starts a process or
# reads a trained run is an integration test; every other one is a unit test of functions and
# modules. Decided here from what the test touches, so no test can be filed in the wrong tier.
_INTEGRATION_FIXTURES = {"trained_run", "nan_runs", "cfg_factory", "gan_lab_cli"}
_INTEGRATION_CALLS = (
    "train(",
    "subprocess",
    "Popen",
    "sample_main(",
    "_main(",
    "multirun",
    "gan_lab_in_process(",
)


def _sources(item) -> list[str]:
    """The test function's source, the module functions it calls, and its fixtures' sources."""
    import inspect

    funcs = [item.function]
    for name in item.function.__code__.co_names:  # helpers of the test module, one level deep
        helper = item.function.__globals__.get(name)
        if inspect.isfunction(helper) and helper.__module__ == item.function.__module__:
            funcs.append(helper)
    for defs in item._fixtureinfo.name2fixturedefs.values():
        funcs += [d.func for d in defs if d.baseid]  # the project's fixtures, not pytest's
    out = []
    for func in funcs:
        try:
            out.append(inspect.getsource(func))
        except (OSError, TypeError):
            out.append("train(")  # unknown: count it as integration
    return out


def _is_integration(item) -> bool:
    if _INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    return any(call in source for source in _sources(item) for call in _INTEGRATION_CALLS)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.integration if _is_integration(item) else pytest.mark.unit)


def _freeze_survivors() -> None:
    """Test-only speed hook: what is alive now (modules, their caches, session fixtures) lives to
    the end, so it is moved out of the garbage collector's full passes, which otherwise walk it
    again dozens of times a session (~15 s). Garbage is collected first; objects still die by
    their reference counts."""
    import gc

    gc.collect()
    gc.freeze()


def pytest_collection_finish(session):
    _freeze_survivors()  # every test module imported: torch, Lightning, Hydra, ... (~500,000)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield
    if nextitem is None or nextitem.module is not item.module:
        _freeze_survivors()  # a module's fixtures are finalised by now
