"""Bounded loading and portable locks (design §9): a file someone else wrote cannot make gan-lab
allocate what it declares (a zip bomb, a stride-0 tensor, sizes in a stored config, an extractor's
meta, a stored fast path), and a run folder's lock works without fcntl, never writes through a
link and says what to do on a file system without locks."""

import errno
import io
import os
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import filelock
import pytest
import torch
from conftest import ROOT

from gan_lab import errors
from gan_lab.data import decoded
from gan_lab.errors import UserError, load_torch_file
from gan_lab.metrics.classifier import ClassifierFeatures, SmallCNN
from gan_lab.runs import lock
from gan_lab.runs.lock import run_lock
from gan_lab.training.fast_path import stored_path
from gan_lab.tune.study import study_lock

BOMB_BYTES = 50 * 2**20


def one_paragraph(stderr: str) -> str:
    """The message the entry point printed, asserted to be one paragraph without a traceback."""
    assert "Traceback" not in stderr, stderr
    said = [line for line in stderr.strip().splitlines() if line.startswith("gan-lab: ")]
    assert len(said) == 1, stderr
    return said[0]


def copy_checkpoint(trained_run: Path, dest: Path, change) -> Path:
    """The trained run's last checkpoint, changed by ``change(ckpt)``, saved to ``dest``."""
    ckpt = torch.load(trained_run / "checkpoints" / "last.ckpt", weights_only=True)
    change(ckpt)
    dest.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, dest)
    return dest


def refuse_torch_load(monkeypatch):
    """torch.load fails the test: a refusal must come before anything is unpickled."""

    def reached(*args, **kwargs):
        raise AssertionError("torch.load reached")

    monkeypatch.setattr(errors.torch, "load", reached)


def zip_bomb(path: Path) -> Path:
    """A real torch archive whose 50 MiB storage of zeros is re-stored deflated (about 50 KB): torch
    would inflate it on load."""
    buffer = io.BytesIO()
    torch.save({"state_dict": {"w": torch.zeros(BOMB_BYTES // 4)}}, buffer)
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(path, "w") as out:
        for entry in src.infolist():
            kind = zipfile.ZIP_DEFLATED if entry.file_size > 2**20 else zipfile.ZIP_STORED
            out.writestr(entry.filename, src.read(entry), compress_type=kind)
    return path


def test_a_zip_bomb_checkpoint_is_refused_before_it_is_inflated(tmp_path, gan_lab_cli, monkeypatch):
    bomb = zip_bomb(tmp_path / "bomb.ckpt")
    assert bomb.stat().st_size < BOMB_BYTES // 100  # ~51 KB that declare 50 MiB
    refuse_torch_load(monkeypatch)
    start = time.perf_counter()
    code, _, stderr = gan_lab_cli(
        "sample", f"ckpt={bomb}", f"out_dir={tmp_path / 's'}", f"hydra.run.dir={tmp_path / 'h'}"
    )
    said = one_paragraph(stderr)
    assert code == 2 and str(bomb) in said and "zip bomb" in said and "50.0 MiB" in said
    assert time.perf_counter() - start < 5 and not (tmp_path / "s").exists()


def test_an_archive_declaring_more_than_its_size_allows_is_refused(tmp_path, monkeypatch):
    """Many entries each under the per-entry rule still cannot add up to more than MAX_RATIO
    times the file."""
    path = tmp_path / "many.pt"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for k in range(40):
            out.writestr(f"archive/data/{k}", b"\0" * errors.SMALL_ENTRY)
    refuse_torch_load(monkeypatch)
    with pytest.raises(UserError, match=r"declare 40\.0 MiB in a file of"):
        load_torch_file(path, "checkpoint")


def test_a_file_in_the_old_pickle_format_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "old.pt"
    torch.save({"w": torch.zeros(3)}, path, _use_new_zipfile_serialization=False)
    refuse_torch_load(monkeypatch)
    with pytest.raises(UserError, match=f"{path} is not a readable checkpoint .not a zip archive"):
        load_torch_file(path, "checkpoint", "use a file written by train.py")


@pytest.mark.parametrize("n", [10**10, 10**8])  # over MAX_ELEMENTS, and under it but expanded
def test_a_stride_0_tensor_is_refused_before_anyone_copies_it(
    trained_run, tmp_path, n, gan_lab_cli
):
    last = trained_run / "checkpoints" / "last.ckpt"

    def expand(ckpt):
        ckpt["state_dict"]["fixed_y"] = torch.zeros(1, dtype=torch.long).expand(n)

    ckpt = copy_checkpoint(trained_run, tmp_path / "run" / "checkpoints" / "last.ckpt", expand)
    assert ckpt.stat().st_size < last.stat().st_size + 4096  # 8·10¹⁰ bytes once copied
    code, _, stderr = gan_lab_cli(
        "sample", f"ckpt={ckpt}", f"out_dir={tmp_path / 's'}", f"hydra.run.dir={tmp_path / 'h'}"
    )
    said = one_paragraph(stderr)
    assert code == 2 and "['fixed_y']" in said and "expanded view" in said and f"{n:,}" in said


def test_views_that_fit_their_storage_still_load(tmp_path):
    row = torch.arange(12.0).view(3, 4)[1]  # a slice of a larger storage, saved with it
    torch.save({"row": row, "nested": [{"t": torch.ones(2)}]}, tmp_path / "ok.pt")
    loaded = load_torch_file(tmp_path / "ok.pt", "file")
    assert loaded["row"].tolist() == [4.0, 5.0, 6.0, 7.0]


@pytest.mark.parametrize(
    "keys, value, said",
    [
        (("generator", "channels"), [10**9, 64], "generator.channels="),
        (("data", "image_size"), 10**6, "data.image_size=1000000"),
        (("generator", "image_size"), 10**6, "generator.image_size=1000000"),
        (("generator", "latent_dim"), 10**9, "generator.latent_dim="),
        (("metrics", "n_samples"), 10**9, "metrics.n_samples="),
        (("discriminator", "num_classes"), 10**9, "discriminator.num_classes="),
        # Every key within its bound, their product not: 4096 × 4096 × 15² per layer.
        (("generator", "kernel_size"), 15, "this generator would have about"),
    ],
)
def test_sizes_in_a_stored_config_are_bounded(
    trained_run, tmp_path, keys, value, said, gan_lab_cli
):
    def change(ckpt):
        node = ckpt["gan_lab"]["config"]
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
        if keys[-1] == "kernel_size":
            node["channels"] = [4096, 4096, 4096]

    ckpt = copy_checkpoint(trained_run, tmp_path / "run" / "checkpoints" / "last.ckpt", change)
    code, _, stderr = gan_lab_cli(
        "sample", f"ckpt={ckpt}", f"out_dir={tmp_path / 's'}", f"hydra.run.dir={tmp_path / 'h'}"
    )
    message = one_paragraph(stderr)
    assert code == 2 and said in message and str(ckpt) in message
    assert not (tmp_path / "s").exists()


def test_the_same_bounds_refuse_a_command_line(cfg_factory):
    from gan_lab.config.validate import check_config

    with pytest.raises(UserError, match=r"data\.image_size=4096 is not valid.*≤ 1024"):
        check_config(cfg_factory("data.image_size=4096"))


@pytest.mark.parametrize(
    "stored, said",
    [
        ({"channels_last": True, "__class__": "os.system"}, "'__class__' is not one of"),
        ({"threads": 10**9}, r"threads=1000000000 must be null or a whole number"),
        ({"compile": "exec"}, "compile='exec' must be null or default"),
        ({"channels_last": "yes"}, "channels_last='yes' must be true or false"),
        (["not", "a", "dict"], "it is list"),
    ],
)
def test_a_stored_fast_path_is_read_as_data(stored, said):
    with pytest.raises(UserError, match=said):
        stored_path(stored, "x.ckpt")
    path = stored_path({"channels_last": True, "compile": None, "threads": 2}, "x.ckpt")
    assert path.channels_last and path.threads == 2


def test_a_checkpoint_with_a_crafted_fast_path_is_refused_on_resume(trained_run, tmp_path):
    from gan_lab.training.checkpoint import read_checkpoint

    def change(ckpt):
        ckpt["gan_lab"]["fast_path"] = {"channels_last": False, "threads": -1}

    ckpt = copy_checkpoint(trained_run, tmp_path / "run" / "checkpoints" / "last.ckpt", change)
    with pytest.raises(UserError, match=f"{ckpt}: its stored fast_path is not valid .threads=-1"):
        read_checkpoint(ckpt)


def test_a_stored_config_that_does_not_fit_its_weights_is_one_paragraph(trained_run, tmp_path):
    """generator.channels changed in the stored config: the tools and a resume refuse the file
    before any state is loaded (no size-mismatch traceback, nothing written to the run)."""
    import shutil

    from conftest import TINY, make_cfg

    from gan_lab.training.checkpoint import load_gan
    from gan_lab.training.train import train

    def change(ckpt):
        generator = ckpt["gan_lab"]["config"]["generator"]
        generator["channels"] = [8] * len(generator["channels"])

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    ckpt = copy_checkpoint(trained_run, run / "checkpoints" / "last.ckpt", change)
    with pytest.raises(UserError, match="its stored generator settings do not fit its stored"):
        load_gan(ckpt)
    before = (run / "metrics.csv").read_bytes()
    with pytest.raises(UserError, match=r"its stored config builds generator\..* of shape"):
        train(make_cfg(run, [*TINY, "trainer.max_epochs=3", f"ckpt_path={ckpt}"]))
    assert (run / "metrics.csv").read_bytes() == before


def small_extractor(tmp_path: Path, **meta) -> Path:
    net = SmallCNN(channels=1, image_size=16, num_classes=2, width=4, feature_dim=8)
    path = ClassifierFeatures(net, "digits", ["0", "1"], 0.9).save(tmp_path / "extractor.pt")
    if meta:
        blob = torch.load(path, weights_only=True)
        blob["meta"].update(meta)
        blob["meta"] = {k: v for k, v in blob["meta"].items() if v is not None}
        torch.save(blob, path)
    return path


@pytest.mark.parametrize(
    "meta, said",
    [
        ({"width": 10**6}, "its meta width=1000000 must be a whole number in"),
        ({"image_size": 10**6}, "its meta image_size=1000000 must be"),
        ({"num_classes": 10**9}, "its meta num_classes="),
        ({"channels": 300}, "its meta channels=300 must be 1 or 3"),
        ({"accuracy": None}, "its meta must hold"),  # a key missing
        ({"_target_": "os.system"}, "its meta must hold"),  # a key gan-lab never writes
    ],
)
def test_an_extractor_files_meta_is_read_as_data(tmp_path, meta, said):
    assert ClassifierFeatures.load(small_extractor(tmp_path)).num_classes == 2  # a real one loads
    path = small_extractor(tmp_path, **meta)
    with pytest.raises(UserError, match=f"{path}: {said}"):
        ClassifierFeatures.load(path)


# ---- locks ----------------------------------------------------------------------------------
def cache_lock(folder: Path):
    return decoded._locked(folder, exclusive=True)


LOCK_USERS = {  # each holder of a lock, and the lock file it takes in ``folder``
    "run folder": (run_lock, ".lock"),
    "study": (study_lock, "study.lock"),
    "decoded cache": (cache_lock, decoded.LOCK),
}


@pytest.mark.parametrize("user", list(LOCK_USERS))
@pytest.mark.parametrize("link", ["symbolic", "hard"])
def test_a_lock_file_that_is_a_link_is_refused_and_its_target_untouched(tmp_path, user, link):
    hold, name = LOCK_USERS[user]
    victim, folder = tmp_path / "victim.txt", tmp_path / "run"
    victim.write_bytes(b"the user's notes\n")
    folder.mkdir()
    if link == "symbolic":
        (folder / name).symlink_to(Path("..") / "victim.txt")
    else:
        os.link(victim, folder / name)
    with (
        pytest.raises(UserError, match=f"the lock file {folder / name} is a .*{link}"),
        hold(folder),
    ):
        pass
    assert victim.read_bytes() == b"the user's notes\n"


def test_the_owner_file_is_replaced_never_written_through(tmp_path):
    victim, run = tmp_path / "victim.txt", tmp_path / "run"
    victim.write_bytes(b"the user's notes\n")
    run.mkdir()
    (run / ".lock.owner").symlink_to(Path("..") / "victim.txt")
    with run_lock(run):
        owner = run / ".lock.owner"
        assert not owner.is_symlink() and owner.read_text() == lock.owner_text()
    assert victim.read_bytes() == b"the user's notes\n" and not owner.exists()


def test_a_second_process_is_refused_naming_the_holder_and_a_killed_one_blocks_nothing(tmp_path):
    run = tmp_path / "run"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from gan_lab.runs.lock import run_lock\n"
            f"with run_lock(Path({str(run)!r})):\n    print('held', flush=True); sys.stdin.read()",
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UserError) as refused, run_lock(run):
            pass
        said = str(refused.value)
        assert f"in use by process {holder.pid} on {socket.gethostname()};" in said
        assert "\n" not in said
    finally:
        holder.kill()  # a killed holder: the kernel drops its lock
        holder.wait()
    with run_lock(run):
        assert (run / ".lock.owner").read_text() == lock.owner_text()


def enosys_flock(monkeypatch):
    """The answer of Lustre mounted without -o flock, at the system call filelock makes."""
    fcntl = pytest.importorskip("fcntl")

    def flock(fd, op):
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(fcntl, "flock", flock)


def not_implemented(monkeypatch):
    """filelock before 4.0 said the same with NotImplementedError."""

    def acquire(self, *args, **kwargs):
        raise NotImplementedError("FileSystem does not appear to support flock")

    monkeypatch.setattr(filelock.FileLock, "acquire", acquire)


@pytest.mark.parametrize("user", list(LOCK_USERS))
@pytest.mark.parametrize("no_flock", [enosys_flock, not_implemented])
def test_a_file_system_without_locks_is_one_paragraph_and_soft_locks_go_on(
    tmp_path, monkeypatch, user, no_flock
):
    hold, name = LOCK_USERS[user]
    folder = tmp_path / "run"
    folder.mkdir()
    monkeypatch.delenv(lock.SOFT_ENV, raising=False)
    no_flock(monkeypatch)
    with pytest.raises(UserError) as refused, hold(folder):
        pass
    said = str(refused.value)
    assert "\n" not in said and "has no file locks" in said and f"{lock.SOFT_ENV}=1" in said
    assert "-o flock" in said and "killed process leaves its file behind" in said
    monkeypatch.setenv(lock.SOFT_ENV, "1")
    marker = folder / f"{name}{lock.SOFT_SUFFIX}"
    with hold(folder):
        assert marker.read_text() == lock.owner_text()
    assert not marker.exists()


def test_a_soft_lock_left_by_a_killed_run_is_named_with_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv(lock.SOFT_ENV, "1")
    run = tmp_path / "run"
    run.mkdir()
    (run / ".lock.held").write_text("process 4242 on node17")
    with (
        pytest.raises(UserError, match="in use by process 4242 on node17.*delete that file"),
        run_lock(run),
    ):
        pass
    assert (run / ".lock.held").read_text() == "process 4242 on node17"  # never broken for you


def test_every_module_imports_without_fcntl():
    """Windows has no fcntl: no gan-lab module may import it (filelock takes the locks)."""
    code = (
        "import sys; sys.modules['fcntl'] = None\n"
        "import importlib, pkgutil, gan_lab\n"
        "names = [m.name for m in pkgutil.walk_packages(gan_lab.__path__, 'gan_lab.')]\n"
        "for name in names: importlib.import_module(name)\n"
        "print(len(names))"
    )
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) > 50  # every module was reached, not just the package
