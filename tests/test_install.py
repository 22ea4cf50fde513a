"""An install that fits the machine: Optuna is the tune extra, not a dependency, so everything but
`gan-lab tune` works without it, and tune says how to add it; the package ships its type marker."""

import json
import subprocess
import sys

import pytest
from conftest import ROOT

# A Python without Optuna (sys.modules['optuna'] = None makes every import of it fail): `import
# gan_lab` stays light, every module outside gan_lab.tune.* imports, and gan-lab tune exits 2.
WITHOUT_OPTUNA = """
import sys; sys.modules['optuna'] = None
import gan_lab
heavy = sorted({'lightning', 'hydra'} & {m.split('.')[0] for m in sys.modules})
import importlib, json, pkgutil
names = [m.name for m in pkgutil.walk_packages(gan_lab.__path__, 'gan_lab.')]
names = [n for n in names if not n.startswith('gan_lab.tune.')]
for name in names:
    importlib.import_module(name)
from gan_lab.cli.main import main
code = main(['tune', 'tune.budget=1m', 'tune.slice=1m'])
print(json.dumps({'heavy': heavy, 'modules': len(names), 'code': code}))
"""


def test_without_optuna_everything_but_tune_works_and_tune_says_how_to_install_it(tmp_path):
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", WITHOUT_OPTUNA],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["heavy"] == []  # import gan_lab brings neither Lightning nor Hydra
    assert found["modules"] > 50 and found["code"] == 2
    said = [p for p in done.stderr.split("\n\n") if p.strip()]
    assert len(said) == 1 and 'pip install "gan-lab[tune]"' in said[0], done.stderr
    assert not list(tmp_path.iterdir())  # refused before any study folder was made


def test_the_extras_fit_the_machine():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert not [d for d in project["dependencies"] if d.startswith("optuna")]
    assert extras["tune"] == ["optuna>=4.4"]
    assert {"joblib", "slurm", "docs", "dev"} <= set(extras)
    needed = {d.split(">")[0] for d in extras["tune"] + extras["joblib"] + extras["slurm"]}
    needed |= {d.split(">")[0] for d in extras["docs"]}  # .ci/run builds the site: make docs
    assert needed <= {d.split(">")[0] for d in extras["dev"]}  # make install runs every test
    assert "Typing :: Typed" in project["classifiers"]


def test_the_type_marker_ships_with_the_package():
    """PEP 561: py.typed is in the package and named by pyproject's package-data."""
    tomllib = pytest.importorskip("tomllib")
    package = ROOT / "src" / "gan_lab"
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = data["tool"]["setuptools"]["package-data"]["gan_lab"]
    assert package / "py.typed" in {p for pattern in patterns for p in package.glob(pattern)}
