"""The resume contract (design §9): the same command + ckpt_path= and ckpt_path= alone both
continue bit-exactly; a stored key given with a new value is refused naming old → new; nothing
in the run folder is touched before the resume has been accepted; a branch moved aside survives
a kill at any step of the move."""

import logging
import os
from pathlib import Path

import lightning as L
import pytest
import torch
from conftest import RANDOM
from test_trust import QUIET, assert_same_run

from gan_lab.config import hydra_subdir
from gan_lab.errors import UserError
from gan_lab.runs import layout, rollback
from gan_lab.runs.files import append_rows, read_rows
from gan_lab.runs.layout import HISTORY
from gan_lab.training.train import prepare_run_folder, train

# conftest's RANDOM: every random stream, and a seed other than the default (ckpt_path= alone
# must take it from the checkpoint); ``uninterrupted`` is 3 epochs of it in one go.
ARGS = RANDOM


class Crash(Exception):
    pass


class CrashAfter(L.Callback):
    """Stops the process the hard way after ``epochs`` epochs, once their files are written."""

    def __init__(self, epochs: int):
        self.epochs = epochs

    def on_train_epoch_end(self, trainer, module):
        if trainer.current_epoch + 1 == self.epochs:
            raise Crash


def test_same_command_and_ckpt_path_alone_both_continue_bit_exactly(
    cfg_factory, tmp_path, caplog, uninterrupted
):
    straight, again, alone = uninterrupted, tmp_path / "again", tmp_path / "alone"

    # 1 epoch, then the same command with the longer length and ckpt_path= added.
    train(cfg_factory(*ARGS, "trainer.max_epochs=1", out=again))
    last = f"ckpt_path={again}/checkpoints/last.ckpt"
    command = [*ARGS, "trainer.max_epochs=3", last]
    with caplog.at_level(logging.INFO):
        train(cfg_factory(*command, out=again), overrides=["debug=tiny", *command])
    assert "as stored in the checkpoint this run resumes" in caplog.text  # the same fast path
    assert_same_run(straight, again)

    # A 3-epoch run that died after 2, resumed with nothing but ckpt_path=: the seed (3, not the
    # default 0), the length and every other setting come from the checkpoint.
    with pytest.raises(Crash):
        train(cfg_factory(*ARGS, "trainer.max_epochs=3", out=alone), callbacks=[CrashAfter(2)])
    last = f"ckpt_path={alone}/checkpoints/last.ckpt"
    train(cfg_factory(last, tiny=False, out=alone), overrides=[last])
    assert_same_run(straight, alone)


def test_a_refused_resume_leaves_the_later_branch_where_it_was(trained_run, tmp_path, cfg_factory):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    before = sorted(p.relative_to(run) for p in run.rglob("*") if p.name != ".lock")
    first = f"ckpt_path={run}/checkpoints/epoch_0001.ckpt"
    # A stored key with a new value: refused naming the key, the stored and the new value.
    with pytest.raises(UserError, match=r"model\.lr_g: 0\.0002 → 1\b"):
        train(cfg_factory(first, "model.lr_g=1", out=run), overrides=[first, "model.lr_g=1"])
    # The stored value again is no change: accepted up to where its bad seed is refused.
    with pytest.raises(UserError, match="seed"):
        train(
            cfg_factory(first, "model.lr_g=2.0e-4", "seed=-1", out=run),
            overrides=[first, "model.lr_g=2.0e-4", "seed=-1"],
        )
    after = sorted(p.relative_to(run) for p in run.rglob("*") if p.name != ".lock")
    assert after == before and not (run / "abandoned").exists()


def test_the_first_start_of_a_repeated_command_needs_no_checkpoint(cfg_factory, tmp_path):
    run = tmp_path / "run"
    last = f"ckpt_path={run}/checkpoints/last.ckpt"
    train(cfg_factory(last, "trainer.max_epochs=1", *QUIET, out=run), overrides=[last])
    assert (run / "checkpoints" / "last.ckpt").exists()
    # A missing checkpoint anywhere else is still an error, not a fresh start.
    with pytest.raises(UserError):
        train(cfg_factory(f"ckpt_path={run}/checkpoints/epoch_0009.ckpt", out=run))


def fake_run(run: Path, epochs: int) -> set[Path]:
    """A finished run's files (contents do not matter to the move): what a branch holds."""
    for e in range(1, epochs + 1):
        for name in (f"checkpoints/epoch_{e:04d}.ckpt", f"samples/epoch_{e:04d}.png"):
            (run / name).parent.mkdir(parents=True, exist_ok=True)
            (run / name).write_text(name)
        for name in HISTORY:
            append_rows(run / name, [{"epoch": e, "value": e}])
    for name in ("checkpoints/last.ckpt", "scores.csv", "samples/evolution.gif"):
        (run / name).write_text(name)
    return {p.relative_to(run) for p in run.rglob("*") if p.is_file()}


def test_a_kill_at_any_step_of_moving_a_branch_loses_nothing(tmp_path, monkeypatch):
    """Going back to epoch 1 of a 3-epoch run, killed at each write or move in turn, then
    started again: the later branch ends complete in one abandoned/ folder, the history cut."""
    real_replace, real_write = os.replace, rollback.write_atomic
    steps = 0
    while True:
        run = tmp_path / f"run{steps}"
        files = fake_run(run, 3)
        calls = 0

        def killed(real, at=steps + 1):
            def wrapper(*args, **kwargs):
                nonlocal calls
                calls += 1
                if calls == at:
                    raise Crash  # the process dies here: nothing after this call happens
                return real(*args, **kwargs)

            return wrapper

        monkeypatch.setattr(rollback.os, "replace", killed(real_replace))
        monkeypatch.setattr(rollback, "write_atomic", killed(real_write))
        try:
            prepare_run_folder(run, 1, run / "checkpoints" / "epoch_0001.ckpt")
            finished = True
        except Crash:
            finished = False
        monkeypatch.setattr(rollback.os, "replace", real_replace)
        monkeypatch.setattr(rollback, "write_atomic", real_write)
        prepare_run_folder(run, 1, run / "checkpoints" / "epoch_0001.ckpt")  # started again

        (dest,) = [p for p in (run / "abandoned").iterdir() if p.is_dir()]
        assert not (run / layout.MOVING_MARK).exists()
        for name in HISTORY:
            assert [r["epoch"] for r in read_rows(run / name)] == ["1"], (steps, name)
            assert [r["epoch"] for r in read_rows(dest / name)] == ["1", "2", "3"], (steps, name)
        later = {
            Path(n)
            for n in (
                "checkpoints/epoch_0002.ckpt",
                "checkpoints/epoch_0003.ckpt",
                "checkpoints/last.ckpt",
                "samples/epoch_0002.png",
                "samples/epoch_0003.png",
                "scores.csv",
                "samples/evolution.gif",
            )
        }
        for name in files - {Path(n) for n in HISTORY}:
            where = dest if name in later else run
            assert (where / name).read_text() == str(name), (steps, name)
        if finished:
            break
        steps += 1
    assert steps >= 8  # a mark, four CSV copies and the moves: every one of them was a kill point


def test_each_later_session_records_its_config_beside_the_first(tmp_path):
    assert hydra_subdir(str(tmp_path), "t1") == ".hydra"
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("seed: 0\n")
    assert hydra_subdir(str(tmp_path), "t2") == ".hydra/sessions/t2"


def test_a_stored_path_is_never_taken_back_from_a_checkpoint(trained_run, tmp_path, cfg_factory):
    """Where a resume writes comes from this session (the run folder, this machine's cache),
    whatever a checkpoint from elsewhere says."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    config = ckpt["gan_lab"]["config"]
    outside = tmp_path / "outside"
    config["callbacks"]["history"]["dirpath"] = str(outside)
    config["callbacks"]["samples"]["dirpath"] = str(outside / "samples")
    config["data"]["cache_dir"] = str(outside / "cache")
    torch.save(ckpt, run / "checkpoints" / "last.ckpt")
    last = f"ckpt_path={run}/checkpoints/last.ckpt"
    longer = [last, "trainer.max_epochs=3"]
    train(cfg_factory(*longer, *QUIET, out=run), overrides=longer)
    assert not outside.exists()
    assert [r["epoch"] for r in read_rows(run / "metrics.csv")] == ["1", "2", "3"]


def test_a_loose_checkpoint_resumes_into_a_new_run_folder(tmp_path):
    """A checkpoint outside a run's checkpoints/ folder (downloaded, handed over) never makes the
    folder around it a run folder: Hydra would write its .hydra/ and log there first."""
    from gan_lab.config import run_dir

    assert run_dir(str(tmp_path / "Downloads" / "x.ckpt"), "outputs/new") == "outputs/new"
    inside = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert run_dir(str(inside), "outputs/new") == str(tmp_path / "run")


def test_a_checkpoint_with_retired_keys_still_resumes(trained_run, tmp_path, cfg_factory):
    """Checkpoints of earlier versions hold callbacks.checkpoint.filename and
    callbacks.balance.rundir, name the noise gan_lab.noise.Normal (before gan_lab/core/) and have
    no data fingerprint; the layout names the files now, and such a checkpoint resumes."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    last = layout.last_checkpoint(run)
    ckpt = torch.load(last, weights_only=True)
    config = ckpt["gan_lab"]["config"]
    config["callbacks"]["checkpoint"]["filename"] = "epoch_{epoch:04d}"
    config["callbacks"]["balance"]["rundir"] = str(run)
    config["noise"]["_target_"] = "gan_lab.noise.Normal"
    del ckpt["gan_lab"]["data"]
    torch.save(ckpt, last)
    longer = [f"ckpt_path={last}", "trainer.max_epochs=3"]
    train(cfg_factory(*longer, *QUIET, out=run), overrides=longer)
    assert layout.history(run)[-1] == (3, layout.checkpoint_path(run, 3))


def test_the_layout_reads_its_own_names(tmp_path):
    assert layout.epoch_of(layout.checkpoint_path(tmp_path, 12)) == 12
    assert layout.epoch_of(layout.grid_path(tmp_path, 0)) == 0
    assert layout.epoch_of(layout.last_checkpoint(tmp_path)) is None
    assert layout.parse_best(layout.best_spec(tmp_path)) == tmp_path
    assert layout.parse_best(tmp_path / "best") == tmp_path  # <run>/best, no such file
    assert layout.parse_best(layout.last_checkpoint(tmp_path)) is None
    assert layout.run_of(layout.checkpoint_path(tmp_path, 3)) == tmp_path.resolve()
