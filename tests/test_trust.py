"""Trustworthy runs (design §9): NaN/Inf never reach a checkpoint, files survive kills, resume is
bit-exact, bad values are refused up front, and opening a file never runs code from it."""

import csv
import fcntl
import os
import pickle
from pathlib import Path

import lightning as L
import pytest
import torch
from conftest import QUIET, RANDOM

from gan_lab.errors import TrainingStopped, UserError, user_error
from gan_lab.runs.files import append_rows, read_rows, truncate_after
from gan_lab.training.train import train


class NaNOnce(L.Callback):
    """Makes the D loss of one step NaN (a blow-up), as a real divergence would."""

    def __init__(self, at_step: int):
        self.at_step, self.before, self.after = at_step, None, None

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        step = trainer.fit_loop.epoch_loop.batch_progress.total.completed + 1
        if step == self.at_step:
            self.loss = module.loss
            original = module.loss.d_loss
            module.loss.d_loss = lambda logits, targets: original(logits, targets) * float("nan")
            self.before = [p.detach().clone() for p in module.discriminator.parameters()]

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if self.before is not None and self.after is None:
            self.after = [p.detach().clone() for p in module.discriminator.parameters()]
            del module.loss.d_loss  # back to the class's method


def every_checkpoint_finite(run: Path) -> bool:
    for path in (run / "checkpoints").glob("*.ckpt"):
        state = torch.load(path, weights_only=True)["state_dict"]
        if not all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()):
            return False
    return True


def test_nan_step_is_skipped_by_default_and_never_reaches_a_checkpoint(
    cfg_factory, tmp_path, caplog
):
    spy = NaNOnce(at_step=6)  # epoch 2, step 6: epoch_0002.ckpt is written after it
    train(cfg_factory("trainer.max_epochs=2", *QUIET, out=tmp_path / "run"), callbacks=[spy])
    assert all(torch.equal(a, b) for a, b in zip(spy.before, spy.after, strict=True))
    assert every_checkpoint_finite(tmp_path / "run")
    said = [r.getMessage() for r in caplog.records if "loss was nan" in r.getMessage()]
    assert said and "epoch 2, step 6" in said[0] and "skipped" in said[0] and "lr_d" in said[0]


def test_nan_with_stop_names_epoch_and_step_and_keeps_the_good_checkpoints(cfg_factory, tmp_path):
    cfg = cfg_factory("trainer.max_epochs=3", "model.nonfinite=stop", *QUIET, out=tmp_path / "run")
    with pytest.raises(TrainingStopped, match=r"epoch 2, step 6.*epoch_0001\.ckpt"):
        train(cfg, callbacks=[NaNOnce(at_step=6)])
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("*.ckpt")) == [
        "epoch_0001.ckpt",
        "last.ckpt",
    ]
    assert every_checkpoint_finite(tmp_path / "run")


@pytest.mark.parametrize("mode", ["rollback", "warn"])
def test_nan_rollback_goes_back_to_the_last_checkpoint_with_lower_learning_rates(nan_runs, mode):
    """rollback: at once; warn: the NaN step is applied, then the epoch-end check rolls back.
    The runs (3 epochs, D's loss NaN at step 6) are conftest's, shared with test_guard."""
    run, cfg, said = (nan_runs[mode][k] for k in ("dir", "cfg", "said"))
    final = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    lr_d = final["optimizer_states"][0]["param_groups"][0]["lr"]
    assert lr_d == pytest.approx(cfg.model.lr_d * 0.5)
    assert every_checkpoint_finite(run)
    assert any("Rolled back to epoch_0001.ckpt" in message for message in said)


class WinsFromEpoch2(L.Callback):
    """Makes the watch see "D wins" from the second epoch on (a run that goes bad later)."""

    def on_train_epoch_start(self, trainer, module):
        watch = next(c for c in trainer.callbacks if type(c).__name__ == "ImbalanceWarning")
        if trainer.current_epoch >= 1:
            watch.d_real_above, watch.d_fake_below = -1.0, 2.0


def test_imbalance_watch_can_roll_back_or_stop(cfg_factory, tmp_path, caplog):
    cfg = cfg_factory(
        "trainer.max_epochs=3",
        "data.num_images=64",  # 2 steps an epoch: the watch is told D wins, whatever it learns
        "callbacks.balance.patience=1",
        "callbacks.balance.action=rollback",
        *QUIET,
        out=tmp_path / "rb",
    )
    train(cfg, callbacks=[WinsFromEpoch2()])
    final = torch.load(tmp_path / "rb" / "checkpoints" / "last.ckpt", weights_only=True)
    # Epoch 2: back to epoch 1; epoch 3: back to epoch 2; the learning rates halved each time.
    lr_g = final["optimizer_states"][1]["param_groups"][0]["lr"]
    assert lr_g == pytest.approx(cfg.model.lr_g / 4)
    said = [r.getMessage() for r in caplog.records if "Rolled back" in r.getMessage()]
    assert len(said) == 2 and "epoch_0001.ckpt" in said[0] and "epoch_0002.ckpt" in said[1]
    always = ["callbacks.balance.d_real_above=-1", "callbacks.balance.d_fake_below=2"]
    cfg = cfg_factory(
        "trainer.max_epochs=3",
        "data.num_images=64",
        "callbacks.balance.patience=2",
        "callbacks.balance.action=stop",
        *always,
        *QUIET,
        out=tmp_path / "stop",
    )
    with pytest.raises(TrainingStopped, match="epoch 2: for 2 epochs. D is winning"):
        train(cfg)


def test_checkpoints_are_written_beside_their_name_fsynced_and_renamed(
    cfg_factory, tmp_path, monkeypatch
):
    renames, syncs = [], []
    real_replace, real_fsync = os.replace, os.fsync
    monkeypatch.setattr(
        os, "replace", lambda a, b: (renames.append((Path(a), Path(b))), real_replace(a, b))[1]
    )
    monkeypatch.setattr(os, "fsync", lambda fd: (syncs.append(fd), real_fsync(fd))[1])
    train(cfg_factory("trainer.max_epochs=1", *QUIET, out=tmp_path / "run"))
    ckpts = [(a, b) for a, b in renames if b.suffix == ".ckpt"]
    assert {b.name for _, b in ckpts} == {"epoch_0001.ckpt", "last.ckpt"}
    assert all(a.parent == b.parent and a != b for a, b in ckpts) and syncs


def test_a_write_that_fails_stops_the_run_with_a_clear_message(cfg_factory, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoints").write_text("a file where the folder should be")  # any OSError will do
    with pytest.raises(UserError, match=r"cannot write .*checkpoints.*resume"):
        train(cfg_factory("trainer.max_epochs=1", *QUIET, out=run))


def test_history_csv_survives_a_partial_line_and_truncates_to_a_checkpoint(tmp_path):
    path = tmp_path / "metrics.csv"
    append_rows(path, [{"epoch": 1, "a": 1}, {"epoch": 2, "a": 2}])
    append_rows(path, [{"epoch": 3, "a": 3, "b": 9}])  # a new column: rewritten atomically
    with path.open("a") as f:
        f.write("4,4")  # a kill in the middle of an append
    assert [r["epoch"] for r in read_rows(path)] == ["1", "2", "3"]
    assert truncate_after(path, 2) == 1
    assert [r["epoch"] for r in read_rows(path)] == ["1", "2"]
    assert path.read_text().endswith("\n") and "b" in path.read_text().splitlines()[0]


def rows(run: Path, name: str) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "epoch_seconds"} for r in read_rows(run / name)]


def assert_same_run(a: Path, b: Path) -> None:
    ca, cb = (torch.load(r / "checkpoints" / "last.ckpt", weights_only=True) for r in (a, b))
    assert ca["state_dict"].keys() == cb["state_dict"].keys()
    assert all(torch.equal(ca["state_dict"][k], cb["state_dict"][k]) for k in ca["state_dict"])
    for oa, ob in zip(ca["optimizer_states"], cb["optimizer_states"], strict=True):
        for sa, sb in zip(oa["state"].values(), ob["state"].values(), strict=True):
            assert all(torch.equal(sa[k], sb[k]) for k in sa)
    for name in ("metrics.csv", "steps.csv", "ssim.csv"):
        assert rows(a, name) == rows(b, name), name
    grids = sorted(p.name for p in (a / "samples").glob("epoch_*.png"))
    assert grids == sorted(p.name for p in (b / "samples").glob("epoch_*.png"))
    for g in grids:
        assert (a / "samples" / g).read_bytes() == (b / "samples" / g).read_bytes(), g


def test_resume_is_bit_exact_and_an_earlier_checkpoint_starts_a_new_branch(
    cfg_factory, tmp_path, uninterrupted
):
    """2 epochs, resumed to 3, then back to epoch 1 and on to 3 again: each time the same as
    ``uninterrupted``, 3 epochs of conftest's RANDOM in one go."""
    straight, split = uninterrupted, tmp_path / "split"
    train(cfg_factory("trainer.max_epochs=2", *RANDOM, out=split))
    train(
        cfg_factory(
            "trainer.max_epochs=3", *RANDOM, f"ckpt_path={split}/checkpoints/last.ckpt", out=split
        )
    )
    assert_same_run(straight, split)
    # Back to epoch 1 of the finished run: the later epochs are set aside, then redone identically.
    train(
        cfg_factory(
            "trainer.max_epochs=3",
            *RANDOM,
            f"ckpt_path={split}/checkpoints/epoch_0001.ckpt",
            out=split,
        )
    )
    assert_same_run(straight, split)
    (aside,) = (split / "abandoned").iterdir()
    assert {p.name for p in (aside / "checkpoints").iterdir()} == {
        "epoch_0002.ckpt",
        "epoch_0003.ckpt",
        "last.ckpt",  # the abandoned branch's newest state
    }
    assert [r["epoch"] for r in read_rows(aside / "metrics.csv")] == ["1", "2", "3"]


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("data.image_size=33", "data.image_size=33"),  # raised inside the Generator's constructor
        ("data.batch_size=0", "data.batch_size"),
        ("model.d_steps=0", "model.d_steps"),
        ("model.lr_d=-1", "model.lr_d"),
        ("callbacks.checkpoint.every_n_epochs=0", "callbacks.checkpoint.every_n_epochs"),
        ("trainer.max_epochs=0", "trainer.max_epochs"),
        ("trainer.max_epochs=-1", "trainer.max_epochs"),
        ("model.nonfinite=ignore", "model.nonfinite"),
    ],
)
def test_bad_values_are_refused_before_any_work_naming_the_key(
    cfg_factory, tmp_path, override, key
):
    with pytest.raises(Exception) as err:  # noqa: B017 — what matters is the UserError inside
        train(cfg_factory(override, *QUIET, out=tmp_path / "run"))
    assert key in str(user_error(err.value))
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_constructor_errors_reach_the_user_as_one_paragraph(tmp_path, gan_lab_cli):
    """In-process `gan-lab train`; test_schema starts train.py itself for the same exit path."""
    code, _, stderr = gan_lab_cli("train", "data.image_size=33", f"hydra.run.dir={tmp_path}")
    assert code == 2 and "Traceback" not in stderr
    assert "InstantiationException" not in stderr and "data.image_size=33" in stderr


def test_one_image_folder_with_metrics_is_refused_at_start(cfg_factory, tmp_path):
    from PIL import Image

    (tmp_path / "one").mkdir()
    Image.new("RGB", (64, 64), "red").save(tmp_path / "one" / "a.png")
    cfg = cfg_factory(
        "data=folder", f"data.root={tmp_path / 'one'}", "metrics=default", out=tmp_path / "run"
    )
    with pytest.raises(UserError, match="metrics=off"):
        train(cfg)


@pytest.mark.parametrize(
    ("tool", "args", "key"),
    [
        ("gan_lab.cli.sample", ["n=0"], "n=0"),
        ("gan_lab.cli.sample", ["batch_size=-1"], "batch_size"),
    ],
)
def test_tools_refuse_bad_values(trained_run, tmp_path, capsys, tool, args, key):
    import importlib

    main = importlib.import_module(tool).main
    with pytest.raises(SystemExit) as err:
        main([f"ckpt={trained_run / 'checkpoints' / 'last.ckpt'}", f"out_dir={tmp_path}", *args])
    assert err.value.code == 2 and key in capsys.readouterr().err


def test_score_refuses_bad_values(trained_run):
    from gan_lab.metrics.scores import score_run

    with pytest.raises(UserError, match="n_samples"):
        score_run(trained_run, n_samples=1)


class Boom:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['BOOM_MARKER']}",))


def test_a_pickle_in_a_weights_file_executes_nothing(tmp_path, monkeypatch):
    from gan_lab.metrics.extractors import load_inception

    marker = tmp_path / "executed"
    monkeypatch.setenv("BOOM_MARKER", str(marker))
    (tmp_path / "weights.pth").write_bytes(pickle.dumps(Boom()))
    with pytest.raises(UserError, match="Inception"):
        load_inception(str(tmp_path / "weights.pth"))
    assert not marker.exists()


# Crafted checkpoints (design §9, "A checkpoint is data"): each edits the stored config of a real
# one. {out} is a folder that must not appear, {victim} a file of the user's that must not change.
ATTACKS = {
    "interpolation builds a target": (
        ("noise", "std"),
        "${{oc.create:{{_target_: os.makedirs, _args_: ['{out}']}}}}",
        "interpolation",
    ),
    "group stored as a string": (
        ("noise",),
        "_target_: os.makedirs\n_args_: ['{out}']",
        "must be a group",
    ),
    "plain foreign target": (
        ("noise", "_target_"),
        "os.makedirs",
        "not one of gan-lab's own classes",
    ),
    "interpolation opens a file for writing": (
        ("generator", "init"),
        "${{oc.create:{{_target_: builtins.open, _args_: ['{victim}', 'w']}}}}",
        "interpolation",
    ),
}


def craft(source: Path, dest: Path, keys: tuple, value) -> Path:
    ckpt = torch.load(source, weights_only=True)
    node = ckpt["gan_lab"]["config"]
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    if keys[-1] == "_target_":
        node["_args_"] = [value]
    dest.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, dest)
    return dest


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_crafted_checkpoints_run_nothing_when_sampled_or_resumed(
    trained_run, tmp_path, cfg_factory, attack, capsys
):
    import shutil

    from gan_lab.cli.sample import main as sample_main

    keys, template, said = ATTACKS[attack]
    out, victim = tmp_path / "pwned", tmp_path / "notes.txt"
    victim.write_text("the user's notes")
    value = template.format(out=out, victim=victim)
    if keys[-1] == "_target_":
        value = "os.makedirs"
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    ckpt = craft(run / "checkpoints" / "last.ckpt", run / "checkpoints" / "last.ckpt", keys, value)
    if keys[-1] == "_target_":  # the plain target's argument: the folder to create
        stored = torch.load(ckpt, weights_only=True)
        stored["gan_lab"]["config"]["noise"]["_args_"] = [str(out)]
        torch.save(stored, ckpt)
    capsys.readouterr()
    with pytest.raises(SystemExit) as err:  # the tool's main, as `gan-lab sample` calls it
        sample_main([f"ckpt={ckpt}", f"out_dir={tmp_path / 's'}"])
    stderr = capsys.readouterr().err
    assert err.value.code == 2 and said in stderr and "Traceback" not in stderr, stderr
    with pytest.raises(UserError, match=said):
        train(cfg_factory("trainer.max_epochs=3", f"ckpt_path={ckpt}", *QUIET, out=run))
    assert not out.exists() and victim.read_text() == "the user's notes"
    assert not (tmp_path / "s").exists() and not (run / "abandoned").exists()


@pytest.mark.parametrize("key", ["audit_report", "cache_dir"])
def test_stored_paths_outside_the_run_folder_are_dropped_with_a_warning(
    trained_run, tmp_path, key, caplog
):
    import shutil

    from gan_lab.training.checkpoint import read_checkpoint

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    outside = tmp_path / "elsewhere" / "file.csv"
    ckpt = craft(
        run / "checkpoints" / "last.ckpt",
        run / "checkpoints" / "last.ckpt",
        ("data", key),
        str(outside),
    )
    config = read_checkpoint(ckpt)["gan_lab"]["config"]
    assert config["data"][key] is None
    assert any(
        f"data.{key}" in r.getMessage() and "outside" in r.getMessage() for r in caplog.records
    )
    # A path inside the folder the run was written in (the run since copied) follows the run.
    craft(ckpt, ckpt, ("data", key), str(trained_run / "data_audit.csv"))
    assert read_checkpoint(ckpt)["gan_lab"]["config"]["data"][key] == str(run / "data_audit.csv")


def test_crafted_class_names_and_score_rows_cannot_leave_their_folders(trained_run, tmp_path):
    import shutil

    from gan_lab.training.checkpoint import read_checkpoint, resolve_checkpoint

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    ckpt = craft(
        run / "checkpoints" / "last.ckpt",
        run / "checkpoints" / "crafted.ckpt",
        ("classes",),
        ["circle", "../../escaped", "triangle", "ring", "cross"],
    )
    with pytest.raises(UserError, match="classes"):
        read_checkpoint(ckpt)
    (tmp_path / "outside.ckpt").write_bytes((run / "checkpoints" / "last.ckpt").read_bytes())
    for path in (tmp_path / "outside.ckpt", "../outside.ckpt", "checkpoints/../../outside.ckpt"):
        with (run / "scores.csv").open("w", newline="") as f:
            csv.writer(f).writerows([["checkpoint", "epoch", "best"], [path, 1, "yes"]])
        with pytest.raises(UserError, match="outside"):
            resolve_checkpoint(f"best@{run}")
    with (run / "scores.csv").open("w", newline="") as f:
        csv.writer(f).writerows(
            [["checkpoint", "epoch", "best"], ["checkpoints/epoch_0001.ckpt", 1, "yes"]]
        )
    assert resolve_checkpoint(f"best@{run}") == run / "checkpoints" / "epoch_0001.ckpt"


def test_resume_accepts_a_moved_data_folder_and_refuses_network_changes(cfg_factory, tmp_path):
    from PIL import Image

    data = tmp_path / "data"
    data.mkdir()
    for i in range(16):  # 2 batches of 8
        Image.new("RGB", (40, 40), (15 * i, 100, 200)).save(data / f"{i}.png")
    run = tmp_path / "run"
    base = ["data=folder", "data.batch_size=8", "trainer.max_epochs=1", *QUIET]
    train(cfg_factory(*base, f"data.root={data}", out=run))
    moved = data.rename(tmp_path / "moved")
    last = f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}"
    cfg = cfg_factory(*base, "trainer.max_epochs=2", last, f"data.root={moved}", out=run)
    train(cfg, overrides=[last, f"data.root={moved}", "trainer.max_epochs=2"])
    stored = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert stored["epoch"] == 1 and stored["gan_lab"]["config"]["data"]["root"] == str(moved)
    cfg = cfg_factory(*base, "trainer.max_epochs=3", last, "model.lr_g=1", out=run)
    with pytest.raises(UserError, match=r"model\.lr_g: 0\.0002 → 1 cannot change"):
        train(cfg, overrides=[last, "model.lr_g=1"])


def test_resume_from_best_and_a_busy_run_folder(trained_run, tmp_path, cfg_factory):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    with (run / "scores.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerows(
            [
                ["checkpoint", "epoch", "val/fid", "best"],
                ["checkpoints/epoch_0001.ckpt", 1, 3.0, "yes"],
            ]
        )
    with open(run / ".lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(UserError, match="in use by"):
            train(cfg_factory("trainer.max_epochs=3", f"ckpt_path=best@{run}", out=run))
    train(cfg_factory("trainer.max_epochs=2", f"ckpt_path=best@{run}", *QUIET, out=run))
    assert (run / "abandoned").is_dir()  # epoch 2 of the first branch was set aside
    assert [r["epoch"] for r in read_rows(run / "metrics.csv")] == ["1", "2"]


def test_ddp_ranks_draw_different_noise_and_augmentation():
    """Checked for real with two CPU ranks in tests/test_sweeps.py (slow tier); here the seeding rule."""
    from gan_lab.core.rng import seed_rank

    seed_rank(0, 0)
    a = torch.rand(4)
    seed_rank(0, 1)
    b = torch.rand(4)
    seed_rank(0, 0)
    assert torch.equal(a, torch.rand(4)) and not torch.equal(a, b)
