"""gan-lab tune: the budget, the space, a real (tiny) study, its recipe, a kill and two workers."""

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import torch
from conftest import ROOT, TINY
from omegaconf import OmegaConf

from gan_lab.cli import compose
from gan_lab.cli.args import as_typed
from gan_lab.cli.main import main as gan_lab_main
from gan_lab.config.schema import TUNE
from gan_lab.errors import UserError
from gan_lab.runs import layout
from gan_lab.tune.space import centre, centre_params, overrides, parse_space
from gan_lab.tune.wall_time import parse_duration, spent

CONF = ROOT / "src" / "gan_lab" / "conf"
# A study of seconds: the tiny preset, the plain path (no timing of kernels per trial), few scores.
FAST = [*TINY, "trainer.fast_path=off", "tune_space=small", "tune.reports=2", "tune.n_samples=64"]


@pytest.fixture(scope="module")
def extractor(tmp_path_factory) -> Path:
    """A classifier of the built-in shapes, trained for one pass: the real objective's code path
    (gan-lab extractor's file, FD in its feature space), at a test's cost."""
    from gan_lab.metrics.classifier import data_config, train_extractor

    out = tmp_path_factory.mktemp("extractor") / "shapes.pt"
    train_extractor(data_config("builtin", ["data.num_images=128"]), out, epochs=1)
    return out


def study_of(folder: Path) -> optuna.Study:
    from gan_lab.tune.study import STUDY_NAME, storage

    return optuna.load_study(study_name=STUDY_NAME, storage=storage(folder))


def test_durations():
    assert parse_duration("1h30m", "k") == 5400
    assert parse_duration("90s", "k") == parse_duration(90, "k") == 90
    assert parse_duration("2d", "k") == 172800
    for bad in ("", "0", "-5m", "1x", "h", "abc", "1h-2m"):
        with pytest.raises(UserError, match="is not a duration"):
            parse_duration(bad, "tune.budget")
    # two workers at once spend the budget once; a gap between sessions is not spent
    assert spent([(0, 10), (5, 20), (30, 40)]) == 30


def test_the_centre_and_every_trial_get_the_slice_as_their_budget():
    """recipe=auto chooses the batch and rates from the budget: the centre must see a trial's."""
    from gan_lab.tune.study import budget_args

    assert budget_args(["data=folder"], 600) == [
        "trainer.max_epochs=1000000",
        "++trainer.max_time=00:00:10:00",
    ]
    assert budget_args(["trainer.max_epochs=5"], 90) == ["++trainer.max_time=00:00:01:30"]


def test_the_space_is_centred_on_the_train_config(tmp_path):
    base = compose("train", TINY, output_dir=tmp_path, return_hydra_config=True)
    centred = centre(base)
    assert base.model.lr_g == "auto" and centred["model.lr_g"] == 2e-4  # as recipe=auto chose
    assert centred["noise"] == "normal"
    entries = OmegaConf.to_container(OmegaConf.load(CONF / "tune_space" / "default.yaml"))
    params = parse_space(entries["params"], centred)
    first = centre_params(params, centred)
    assert first["model.lr_g"] == 1.0 and first["noise"] == "normal"

    class Fixed:  # a trial that proposes the centre's values
        def suggest_float(self, name, *a, **k):
            return first.get(name, 1.0)

        suggest_int = suggest_float

        def suggest_categorical(self, name, choices):
            return first.get(name, choices[0])

    from gan_lab.tune.space import suggest

    values = suggest(Fixed(), params, centred)
    assert values["generator.channels"] == [64, 32, 16]  # recipe=auto's choice for the set
    again = compose("train", [*TINY, *overrides(values)], output_dir=tmp_path)
    assert again.model.lr_g == centred["model.lr_g"]


@pytest.mark.parametrize(
    ("entries", "said"),
    [
        ([], "the search space is empty"),
        ([{"key": "model.nope", "kind": "choice", "values": [1]}], "model.nope"),
        ([{"key": "model.lr_g", "kind": "log_factor", "low": 2, "high": 1}], "low < high"),
        ([{"key": "model.loss", "kind": "scale", "values": [2]}], "not a number"),
        ([{"key": "model.lr_g", "kind": "bogus"}], "kind"),
    ],
)
def test_a_broken_space_is_one_paragraph(tmp_path, entries, said):
    centred = centre(compose("train", TINY, output_dir=tmp_path, return_hydra_config=True))
    with pytest.raises(UserError, match=said) as err:
        parse_space(entries, centred)
    assert "\n" not in str(err.value)


def test_the_tune_config_has_a_rule_for_every_key():
    given = OmegaConf.load(CONF / "tune.yaml").tune
    assert {f"tune.{k}" for k in given} | {"tune_space.params"} == set(TUNE)


def test_help_explains_the_space_and_the_budget(capsys):
    assert gan_lab_main(["tune", "--help"]) == 0
    said = capsys.readouterr().out
    assert "tune.budget" in said and "search space" in said and "log_factor" in said


@pytest.mark.parametrize(
    "args",
    [["tune.budget=soon"], ["tune.budget=0"], ["tune.budget=1m", "tune.slice=2m"], "empty"],
)
def test_a_bad_budget_or_an_empty_space_is_exit_2(tmp_path, capsys, args):
    if args == "empty":
        space = tmp_path / "space.yaml"
        space.write_text("params: []\n")
        args = [f"tune.space_file={space}"]
    code = gan_lab_main(["tune", *TINY, *args, f"tune.dir={tmp_path / 's'}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "duration" in err or "longer than" in err or "empty" in err, err
    assert not (tmp_path / "s").exists()


def test_a_study_spends_its_budget_and_writes_a_recipe_train_reads(tmp_path, extractor, capsys):
    folder = tmp_path / "study"
    args = [*FAST, "tune.budget=6s", "tune.slice=2s", f"tune.extractor={extractor}"]
    assert gan_lab_main(["tune", *args, f"tune.dir={folder}"]) == 0
    out = capsys.readouterr()
    study = study_of(folder)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert layout.study_journal(folder).is_file() and done
    assert study.trials[0].user_attrs.get("centre")
    assert "trial 0: fid_shapes" in out.out + out.err  # one line per trial
    best = min(done, key=lambda t: t.value)
    recipe = layout.best_recipe(folder)
    assert recipe.is_file() and f"trial {best.number}" in recipe.read_text()
    # the recipe composes, by file and by study folder, to the best trial's config
    trial = compose("train", best.user_attrs["keep"], output_dir=tmp_path / "a")
    for spec, typed in itertools.product((recipe, folder), (False, True)):
        # typed: as gan-lab train passes it on (the path quoted for Hydra by cli.args.as_typed)
        arg = as_typed([f"experiment={spec}"])[0] if typed else f"experiment={spec}"
        again = compose("train", [arg], output_dir=tmp_path / "a")
        for group in ("model", "data", "generator", "discriminator", "noise", "trainer"):
            assert again[group] == trial[group], (spec, typed, group)
    page = (folder / layout.REPORT).read_text()
    assert "Trials, best first" in page and f">{best.number}</a>" in page
    # the same command again: the budget is spent, nothing is repeated
    assert gan_lab_main(["tune", *args, f"tune.dir={folder}"]) == 0
    assert len(study_of(folder).trials) == len(study.trials)
    # other arguments for the same study are refused
    assert gan_lab_main(["tune", *args, "model.loss=bce", f"tune.dir={folder}"]) == 2
    assert "was started with other args" in capsys.readouterr().err


def _tune(folder: Path, extractor: Path, *extra: str) -> subprocess.Popen:
    args = [*FAST, "tune.slice=4s", "tune.heartbeat=2", f"tune.extractor={extractor}", *extra]
    return subprocess.Popen(
        [sys.executable, "-m", "gan_lab.cli.main", "tune", *args, f"tune.dir={folder}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )


@pytest.mark.slow
def test_a_killed_study_continues_without_repeating_finished_trials(tmp_path, extractor):
    folder = tmp_path / "study"
    proc = _tune(folder, extractor, "tune.budget=40s")
    deadline = time.time() + 180
    while time.time() < deadline:  # kill it during its second trial
        time.sleep(0.5)
        if layout.study_journal(folder).is_file():
            states = [t.state.name for t in study_of(folder).trials]
            if "COMPLETE" in states and states[-1] == "RUNNING":
                break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {t.number: t for t in study_of(folder).trials if t.state.name == "COMPLETE"}
    killed = [t for t in study_of(folder).trials if t.state.name == "RUNNING"]
    assert before and killed
    again = _tune(folder, extractor, "tune.budget=40s")
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 0, out
    assert "its worker stopped" in out
    trials = study_of(folder).trials
    for number, t in before.items():  # finished trials are kept as they were
        assert trials[number].state.name == "COMPLETE" and trials[number].value == t.value
    dead = trials[killed[0].number]
    assert dead.state.name == "FAIL" and dead.user_attrs["note"] == "its worker stopped"
    retry = [t for t in trials if t.user_attrs.get("retry_of") == dead.number]
    assert len(retry) == 1 and retry[0].params == dead.params
    assert not any(t.user_attrs.get("retry_of") in before for t in trials)
    assert all(t.state.name != "RUNNING" for t in trials)
    assert len(trials) > len(before) + 2  # the second session spent the rest of the budget


@pytest.mark.slow
def test_two_workers_share_one_study(tmp_path, extractor):
    folder = tmp_path / "study"
    proc = _tune(folder, extractor, "tune.budget=40s", "tune.workers=2")
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    study = study_of(folder)
    pids = {t.user_attrs["worker"]["pid"] for t in study.trials}
    sessions = [k for k in study.user_attrs if k.startswith("session:")]
    assert len(pids) == 2 and len(sessions) == 2, out
    assert [t.number for t in study.trials] == list(range(len(study.trials)))
    assert sum(bool(t.user_attrs.get("centre")) for t in study.trials) == 1  # created once
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in study.trials)


@pytest.mark.parametrize(
    ("error", "oom"),
    [
        # what torch's CPU allocator raises for a batch that does not fit (a plain RuntimeError)
        (
            RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 8 GB"),
            True,
        ),
        (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB"), True),
        (RuntimeError("a bug in the trial"), False),
    ],
)
def test_a_trial_out_of_memory_fails_alone_and_any_other_error_stops_the_study(
    tmp_path, extractor, monkeypatch, capsys, error, oom
):
    import gan_lab.training.train as training

    def fails(cfg, callbacks=()):
        raise error

    monkeypatch.setattr(training, "train", fails)
    folder = tmp_path / "study"
    args = [*FAST, "tune.budget=1h", "tune.slice=1s", f"tune.extractor={extractor}"]
    if oom:  # each trial that did not fit is noted and the next one tried, 5 in a row at most
        assert gan_lab_main(["tune", *args, f"tune.dir={folder}"]) == 2
        assert "5 trials in a row ran out of the device's memory" in capsys.readouterr().err
    else:  # a bug ends the worker at its first trial
        with pytest.raises(RuntimeError, match="a bug in the trial"):
            gan_lab_main(["tune", *args, f"tune.dir={folder}"])
    trials = study_of(folder).trials
    assert len(trials) == (5 if oom else 1)
    assert all(t.state.name == "FAIL" for t in trials)
    if oom:
        assert all(str(error).split(":")[0] in t.user_attrs["note"] for t in trials)
