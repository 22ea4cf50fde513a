"""A run folder from someone else is data, like a checkpoint (design §9): a link in it is never
written (nor read) through, a path it names is confined to it, the report embeds only its own
pictures and evaluates nothing of its YAML, huge, special and malformed files are skipped with a
warning, a checkpoint's stored trainer and logger settings cannot put files elsewhere, and a full
disk is one paragraph. Each attack is planted in a copy of the tiny trained run; the file outside
the folder that it aims at must come out byte-identical."""

import base64
import errno
import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
import torch
from conftest import TINY, make_cfg
from PIL import Image

from gan_lab.config.resume import use_stored_config
from gan_lab.config.validate import read_stored
from gan_lab.errors import UserError, user_error
from gan_lab.metrics.scores import write_tables
from gan_lab.report import images, links, write_run_report
from gan_lab.runs import files, rollback
from gan_lab.runs.safe_io import append_atomic, guard_tensorboard, write_png
from gan_lab.training.checkpoint import read_checkpoint
from gan_lab.training.train import make_trainer

VICTIM = b"the user's own file\n"
# A YAML "billion laughs": 9 lists of 10 aliases of the one before, ~350 bytes that a walk
# expands to 10^9 items.
ALIAS_BOMB = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{b}: &{b} [{','.join([f'*{a}'] * 10)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


def one_paragraph(stderr: str) -> str:
    """The message the entry point printed: one ``gan-lab:`` paragraph, no traceback."""
    assert "Traceback" not in stderr, stderr
    said = [line for line in stderr.strip().splitlines() if line.startswith("gan-lab: ")]
    assert len(said) == 1, stderr
    return said[0]


def copy_run(trained_run: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(trained_run, run, symlinks=True)
    return run


def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_bytes(VICTIM)
    return path


def finishes(fn, seconds: float = 10):
    """``fn()``'s result, asserted to come within ``seconds`` (a read of a FIFO would wait for a
    writer forever, one of /dev/zero would never end)."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as err:  # noqa: BLE001 — raised again in the test's own thread
            out["error"] = err

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still running after {seconds} s"
    if "error" in out:
        raise out["error"]
    return out.get("value")


# ---- writes never go through a link ---------------------------------------------------------
def test_score_refuses_a_linked_scores_csv_before_scoring(trained_run, tmp_path, gan_lab_cli):
    run, target = copy_run(trained_run, tmp_path), victim(tmp_path)
    (run / "scores.csv").symlink_to(os.path.relpath(target, run))
    code, _, stderr = gan_lab_cli("score", f"run_dir={run}")
    said = one_paragraph(stderr)
    assert code == 2 and str(run / "scores.csv") in said and "cp -rL" in said
    assert target.read_bytes() == VICTIM


ROWS = [{"checkpoint": "checkpoints/epoch_0001.ckpt", "epoch": 1, "val/fid": 3.0, "best": "yes"}]
SCORED = {"n_samples": 8, "extractor": "test"}


@pytest.mark.parametrize("name", ["scores.csv", "scores.md"])
def test_the_score_tables_refuse_a_link_without_the_folder_check(tmp_path, name):
    """The writers' own guard (safe_io.refuse_links), for a link planted after the check."""
    run, target = tmp_path / "run", victim(tmp_path)
    run.mkdir()
    (run / name).symlink_to(target)
    with pytest.raises(UserError, match=rf"{name} is a symbolic link"):
        write_tables(run, ROWS, "val/fid", SCORED)
    assert target.read_bytes() == VICTIM and (run / name).is_symlink()


def test_scores_csv_is_replaced_whole_and_a_full_disk_is_one_paragraph(tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    write_tables(run, ROWS, "val/fid", SCORED)
    before = (run / "scores.csv").read_bytes()

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)  # the new table is written, then cannot be synced
    rows = [dict(ROWS[0], epoch=2, best="")] + [dict(ROWS[0], best="")]
    with pytest.raises(UserError, match=r"cannot write .*scores\.csv: No space left on device"):
        write_tables(run, rows, "val/fid", SCORED)
    assert (run / "scores.csv").read_bytes() == before  # best@ still names its row
    assert not list(run.glob(".*.tmp-*"))


@pytest.mark.parametrize(
    "planted", ["samples/epoch_0003.png", "metrics.csv", "samples", ".lock", "train.log"]
)
def test_a_resume_refuses_a_folder_with_a_link(trained_run, tmp_path, gan_lab_cli, planted):
    """The third epoch would write samples/epoch_0003.png, append to metrics.csv, write into
    samples/ and take .lock, and Hydra opens train.log before gan-lab runs: each is a link to a
    file (or folder) of the user's outside the run."""
    run, target = copy_run(trained_run, tmp_path), victim(tmp_path)
    link = run / planted
    if link.is_dir():
        shutil.rmtree(link)
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        shutil.copy(target, elsewhere / "epoch_0003.png")
        target = elsewhere / "epoch_0003.png"
        link.symlink_to(elsewhere, target_is_directory=True)
    else:
        link.unlink(missing_ok=True)
        link.symlink_to(os.path.relpath(target, link.parent))
    code, _, stderr = gan_lab_cli(
        "train", "trainer.max_epochs=3", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}"
    )
    said = one_paragraph(stderr)
    assert code == 2 and f"{link} is a symbolic link" in said and "cp -rL" in said
    assert target.read_bytes() == VICTIM
    assert not (run / "checkpoints" / "epoch_0003.ckpt").exists()  # refused before training


@pytest.mark.parametrize("planted", ["metrics.csv", "train.log"])
def test_a_resume_refuses_a_hard_linked_table_or_log(trained_run, tmp_path, gan_lab_cli, planted):
    """A hard link is no symbolic link, but an append goes to every name of the file: the third
    epoch's row (or Hydra's log lines) would change the user's file outside the run."""
    run, target = copy_run(trained_run, tmp_path), victim(tmp_path)
    (run / planted).unlink(missing_ok=True)
    os.link(target, run / planted)
    code, _, stderr = gan_lab_cli(
        "train", "trainer.max_epochs=3", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}"
    )
    assert code == 2 and f"{run / planted} is one file with 2 names" in one_paragraph(stderr)
    assert target.read_bytes() == VICTIM


def test_a_linked_checkpoints_folder_cannot_move_the_resumed_run(
    trained_run, tmp_path, gan_lab_cli
):
    """<run>/checkpoints → ~/mine/checkpoints: resolved, the checkpoint's run folder would be
    ~/mine, another run of the user's, and the resume would train into it."""
    run, mine = copy_run(trained_run, tmp_path), tmp_path / "mine"
    mine.mkdir()
    shutil.move(run / "checkpoints", mine / "checkpoints")
    (run / "checkpoints").symlink_to(mine / "checkpoints", target_is_directory=True)
    before = sorted(p.name for p in (mine / "checkpoints").iterdir())
    code, _, stderr = gan_lab_cli(
        "train", "trainer.max_epochs=3", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}"
    )
    said = one_paragraph(stderr)
    assert code == 2 and f"{run / 'checkpoints'} is a symbolic link" in said
    assert sorted(p.name for p in (mine / "checkpoints").iterdir()) == before
    assert not (mine / "metrics.csv").exists() and not (mine / "samples").exists()
    assert not (mine / "train.log").exists() and not (mine / ".hydra").exists()  # nor Hydra


def test_a_grid_written_into_a_linked_folder_is_refused(tmp_path):
    run = tmp_path / "run"
    (tmp_path / "elsewhere").mkdir()
    run.mkdir()
    (run / "samples").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(UserError, match=r"run/samples is a symbolic link"):
        write_png(run / "samples" / "epoch_0001.png", torch.zeros(3, 4, 4), root=run)
    assert not list((tmp_path / "elsewhere").iterdir())


def test_a_run_folder_reached_through_a_link_is_fine(tmp_path):
    """Only links inside the run folder are refused: an outputs/ that links to a scratch disk
    (above the run folder) is the user's own choice."""
    (tmp_path / "scratch" / "run").mkdir(parents=True)
    (tmp_path / "outputs").symlink_to(tmp_path / "scratch", target_is_directory=True)
    run = tmp_path / "outputs" / "run"
    write_png(run / "samples" / "epoch_0001.png", torch.zeros(3, 4, 4), root=run)
    files.check_no_links(run)
    assert (tmp_path / "scratch" / "run" / "samples" / "epoch_0001.png").is_file()


def test_an_append_to_a_fifo_neither_blocks_nor_writes(tmp_path):
    os.mkfifo(tmp_path / "metrics.csv")
    with pytest.raises(UserError, match="not a regular file"):
        finishes(lambda: append_atomic(tmp_path / "metrics.csv", "1,2\n"), 10)


def test_check_no_links_names_the_first_link_and_special_file(tmp_path):
    run = tmp_path / "run"
    (run / "abandoned" / "x" / "samples").mkdir(parents=True)
    files.check_no_links(run)  # plain files and folders: nothing to say
    deep = run / "abandoned" / "x" / "samples" / "epoch_0001.png"
    deep.symlink_to("/etc/hostname")
    with pytest.raises(UserError, match=rf"{deep} is a symbolic link \(to '/etc/hostname'\)"):
        files.check_no_links(run)
    deep.unlink()
    os.mkfifo(run / "steps.csv")
    with pytest.raises(UserError, match=r"steps\.csv is not a regular file"):
        files.check_no_links(run)


# ---- paths the folder names stay inside it --------------------------------------------------
@pytest.mark.parametrize("mark", ["../victim", "/tmp/victim", "abandoned/../../victim", ".."])
def test_a_moving_mark_outside_abandoned_is_ignored(trained_run, tmp_path, caplog, mark):
    run = copy_run(trained_run, tmp_path)
    (run / "scores.csv").write_text("checkpoint,epoch,best\n")
    (run / "abandoned").mkdir()
    (run / "abandoned" / ".moving").write_text(mark.replace("/tmp/", f"{tmp_path}/"))
    with caplog.at_level(logging.WARNING):
        dest = rollback.set_aside(run, 1, "2026-01-01_00-00-00")
    assert dest == run / "abandoned" / "2026-01-01_00-00-00"
    assert (dest / "scores.csv").is_file() and not (tmp_path / "victim").exists()
    assert not (run / "abandoned" / ".moving").exists()
    assert any(
        ".moving names" in r.getMessage() and "ignored" in r.getMessage() for r in caplog.records
    )


def test_a_moving_mark_of_an_interrupted_move_is_still_followed(trained_run, tmp_path):
    run = copy_run(trained_run, tmp_path)
    (run / "abandoned").mkdir()
    (run / "abandoned" / ".moving").write_text("abandoned/earlier\n")
    assert rollback.set_aside(run, 1, "later") == run / "abandoned" / "earlier"


# ---- the report -----------------------------------------------------------------------------
def secret_png(path: Path) -> bytes:
    Image.new("RGB", (5, 3), (1, 2, 3)).save(path, format="PNG")
    return path.read_bytes()


def test_report_refuses_a_linked_preview_and_never_embeds_it(trained_run, tmp_path, gan_lab_cli):
    run = copy_run(trained_run, tmp_path)
    secret = secret_png(tmp_path / "secret.png")
    before = (run / "report.html").read_bytes()
    (run / "preview" / "batch.png").unlink()
    (run / "preview" / "batch.png").symlink_to(tmp_path / "secret.png")
    code, _, stderr = gan_lab_cli("report", str(run))
    said = one_paragraph(stderr)
    assert code == 2 and str(run / "preview" / "batch.png") in said
    assert (run / "report.html").read_bytes() == before
    # And the picture itself, asked for directly (a link planted after the folder check):
    shown = links.picture(run, run / "preview" / "batch.png", "a batch")
    assert shown.src is None and base64.b64encode(secret).decode() not in str(shown)


def test_report_embeds_only_files_that_are_images(trained_run, tmp_path):
    run = copy_run(trained_run, tmp_path)
    (run / "preview" / "batch.png").write_bytes(b"SECRET-TOKEN " * 100)
    page = write_run_report(run).read_text()
    assert base64.b64encode(b"SECRET-TOKEN " * 3).decode()[:40] not in page
    assert 'class="grid pixel" src="data:image/png' in page  # the real grids still are


def test_report_decodes_no_path_outside_the_folder_from_the_audit(
    trained_run, tmp_path, monkeypatch
):
    run = copy_run(trained_run, tmp_path)
    outside, inside = tmp_path / "private.png", run / "preview" / "skipped.png"
    for path in (outside, inside):
        Image.new("RGB", (40, 40), (9, 8, 7)).save(path)
    (run / "data_audit.csv").write_text(
        f"path,problem,detail,action\n{outside},tiny,x,skipped\n{inside},tiny,x,skipped\n"
    )
    decoded, real = [], images.audit_thumbnail
    monkeypatch.setattr(images, "audit_thumbnail", lambda p, *a: decoded.append(p) or real(p, *a))
    page = write_run_report(run).read_text()
    assert decoded == [inside] and "outside the run folder" in page


def test_report_shows_hydra_config_as_written_without_resolving(
    trained_run, tmp_path, gan_lab_cli, monkeypatch
):
    run = copy_run(trained_run, tmp_path)
    monkeypatch.setenv("GAN_LAB_TEST_SECRET", "s3cr3t-from-the-environment")
    info = json.loads((run / "run.json").read_text())
    del info["config"]  # the report then reads Hydra's record
    (run / "run.json").write_text(json.dumps(info))
    (run / ".hydra").mkdir()
    config = "seed: ${oc.env:GAN_LAB_TEST_SECRET}\ndata:\n  name: ${seed}\n  size: 28\n"
    (run / ".hydra" / "config.yaml").write_text(config)
    code, _, stderr = gan_lab_cli("report", str(run))
    page = (run / "report.html").read_text()
    assert code == 0, stderr
    assert "s3cr3t-from-the-environment" not in page and "${oc.env:GAN_LAB_TEST_SECRET}" in page


def test_an_alias_bomb_config_is_refused_at_once(trained_run, tmp_path, gan_lab_cli, caplog):
    run = copy_run(trained_run, tmp_path)
    (run / "run.json").unlink()
    (run / ".hydra").mkdir()
    (run / ".hydra" / "config.yaml").write_text(ALIAS_BOMB)
    assert len(ALIAS_BOMB) < 400
    start = time.perf_counter()
    assert files.read_yaml(run / ".hydra" / "config.yaml") is None
    assert time.perf_counter() - start < 0.5
    start = time.perf_counter()
    code, _, stderr = gan_lab_cli("report", str(run))
    assert code == 0 and "Traceback" not in stderr
    assert time.perf_counter() - start < 10  # the page itself; the bomb took minutes before
    assert any("an alias" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("kind", ["dev_zero", "fifo"])
def test_a_metrics_csv_that_never_ends_is_refused_not_read(
    trained_run, tmp_path, gan_lab_cli, kind
):
    run = copy_run(trained_run, tmp_path)
    (run / "metrics.csv").unlink()
    if kind == "fifo":
        os.mkfifo(run / "metrics.csv")
    else:
        (run / "metrics.csv").symlink_to("/dev/zero")
    code, _, stderr = finishes(lambda: gan_lab_cli("report", str(run)), 30)
    said = one_paragraph(stderr)
    assert code == 2 and str(run / "metrics.csv") in said
    assert finishes(lambda: files.read_rows(run / "metrics.csv"), 10) == []  # the reader alone


def test_malformed_tables_and_run_json_are_warnings_not_tracebacks(
    trained_run, tmp_path, gan_lab_cli, caplog
):
    run = copy_run(trained_run, tmp_path)
    rows = (run / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    odd = dict.fromkeys(header, "1")
    odd["epoch"] = "not a number"
    long = dict.fromkeys(header, "1")
    long[header[-1]] = "x" * (200 * 1024)  # over csv's 128 KiB field limit
    text = "\n".join(rows[:2] + [",".join(odd.values()), ",".join(long.values())]) + "\n"
    (run / "metrics.csv").write_text(text)
    (run / "run.json").write_text('{"sessions": [1], "config": ' + "[" * 5000 + "]" * 5000 + "}")
    code, _, stderr = gan_lab_cli("report", str(run))
    assert code == 0 and "Traceback" not in stderr
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "field larger than field limit" in said and "run.json is not read" in said
    # The history is rewritten on a resume: there an over-long field is one paragraph, and the
    # file is left as it is (cutting at the bad line would drop every row after it).
    with pytest.raises(UserError, match=r"metrics\.csv: field larger than field limit"):
        files.truncate_after(run / "metrics.csv", 1)
    assert (run / "metrics.csv").read_text() == text


def test_run_json_of_another_shape_leaves_out_a_section_not_the_page(trained_run, tmp_path, caplog):
    run = copy_run(trained_run, tmp_path)
    info = json.loads((run / "run.json").read_text())
    info["data"]["per_class"], info["grid"] = 5, {"rows": 7}
    (run / "run.json").write_text(json.dumps(info))
    page = write_run_report(run).read_text()
    assert page.count("Not shown: the folder&#39;s files are not what gan-lab writes") == 2
    assert 'id="samples"' in page and 'class="grid pixel" src="data:image/png' in page
    left_out = [r.getMessage() for r in caplog.records if "section is left out" in r.getMessage()]
    assert len(left_out) == 2 and "'data'" in left_out[0] and "'classes'" in left_out[1]


def test_rows_whose_epoch_is_not_a_number_are_dropped_on_a_resume(tmp_path, caplog):
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,a\n1,1\nnan,2\n/etc/passwd,3\n2,4\n3,5\n")
    assert files.truncate_after(path, 2) == 3
    assert path.read_text() == "epoch,a\n1,1\n2,4\n"
    assert any("not a number" in r.getMessage() for r in caplog.records)


# ---- a checkpoint's stored config -----------------------------------------------------------
def hostile_checkpoint(trained_run: Path, tmp_path: Path) -> Path:
    """A copy of the run whose last.ckpt stores a TensorBoard name and version that are paths
    and a trainer.default_root_dir outside it."""
    run = copy_run(trained_run, tmp_path)
    path = run / "checkpoints" / "last.ckpt"
    ckpt = torch.load(path, weights_only=True)
    config = ckpt["gan_lab"]["config"]
    config["logger"]["tensorboard"]["name"] = str(tmp_path / "events")
    config["logger"]["tensorboard"]["version"] = "../../v"
    config["trainer"]["default_root_dir"] = str(tmp_path / "root")
    torch.save(ckpt, path)
    return path


def test_stored_trainer_keys_and_logger_paths_are_dropped(trained_run, tmp_path, caplog):
    path = hostile_checkpoint(trained_run, tmp_path)
    config = read_checkpoint(path)["gan_lab"]["config"]
    assert "default_root_dir" not in config["trainer"]
    assert {"name", "version"}.isdisjoint(config["logger"]["tensorboard"])
    said = " ".join(r.getMessage() for r in caplog.records if "passes on" in r.getMessage())
    for key in (
        "trainer.default_root_dir",
        "logger.tensorboard.name",
        "logger.tensorboard.version",
    ):
        assert repr(key) in said
    # What a resume builds from it: Lightning's defaults, the events inside the run folder.
    run = path.parent.parent
    cfg = use_stored_config(make_cfg(run, TINY + [f"ckpt_path={path}"]), [], config)
    trainer = make_trainer(cfg)
    assert Path(trainer.default_root_dir) == Path.cwd()
    assert Path(trainer.logger.log_dir).is_relative_to(run)


def test_a_stored_config_nested_5000_deep_is_one_paragraph(trained_run):
    config = torch.load(trained_run / "checkpoints" / "last.ckpt", weights_only=True)
    config = config["gan_lab"]["config"]
    deep: dict = {}
    node = deep
    for _ in range(5000):
        node["x"] = {}
        node = node["x"]
    config["model"]["extra"] = deep
    with pytest.raises(UserError, match="nests deeper than"):
        read_stored(config, "hostile.ckpt", trained_run)


# ---- a full disk ----------------------------------------------------------------------------
def test_a_full_disk_on_a_grid_is_one_paragraph_and_keeps_the_old_grid(tmp_path, monkeypatch):
    run = tmp_path / "run"
    path = write_png(run / "samples" / "epoch_0001.png", torch.zeros(3, 4, 4), root=run)
    before = path.read_bytes()

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(UserError, match=r"cannot write .*epoch_0001\.png: No space left"):
        write_png(path, torch.ones(3, 4, 4), root=run)
    assert path.read_bytes() == before and not list(path.parent.glob(".*.tmp-*"))


def test_a_full_disk_under_tensorboard_is_one_paragraph(tmp_path):
    from lightning.pytorch.loggers import TensorBoardLogger

    logger = TensorBoardLogger(str(tmp_path), name="tensorboard", version="")
    guard_tensorboard([logger])
    writer = logger.experiment._get_file_writer()
    # What the writer's own thread keeps when its write fails; raised at the next call.
    writer.event_writer._async_writer._worker.exception = OSError(errno.ENOSPC, "No space left")
    with pytest.raises((UserError, ValueError)) as raised:  # Lightning wraps it in a ValueError
        logger.log_metrics({"d_loss": 1.0}, step=1)
    said = str(user_error(raised.value))
    assert "cannot write TensorBoard's events" in said and "No space left" in said
    with pytest.raises(UserError, match="TensorBoard"):
        logger.experiment.add_image("samples", torch.zeros(3, 4, 4), 1)
