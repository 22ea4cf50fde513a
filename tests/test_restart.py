"""Your own folder and your restart, as a user types them (issue: paths people type, the same
command to restart any run): paths with ~, spaces, brackets, quotes, commas, = and non-ASCII
reach every command intact; every mistake on the command line is one paragraph with exit 2 and
leaves no run folder; the same command line plus ckpt_path= continues a folder run bit for bit
whatever groups it names; a key that changes results is refused, logging may change; a changed
training set is refused with what changed unless allow_data_change=true."""

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import QUIET
from PIL import Image
from test_trust import assert_same_run

from gan_lab.cli.args import as_typed
from gan_lab.config import compose

# Names that Hydra's grammar would misread, each a real folder name somewhere.
ODD_NAMES = ["my pics (2)", "a,b=c", "it's [x]", "Gemälde ż", "back\\slash", "$HOME {1}"]


def _digits(root: Path, per_class: int, classes=(0, 1, 7)) -> Path:
    """Real handwritten digits (scikit-learn's bundled set) as 32-px PNGs in class folders."""
    from sklearn.datasets import load_digits

    d = load_digits()
    for c in classes:
        (root / str(c)).mkdir(parents=True, exist_ok=True)
        picks = np.flatnonzero(d.target == c)[:per_class]
        for i in picks:
            pixels = (d.images[i] * 255 / 16).astype(np.uint8)
            Image.fromarray(pixels).resize((32, 32)).save(root / str(c) / f"{i}.png")
    return root


def _one_paragraph(err: str) -> str:
    text = err.strip()
    assert text.startswith("gan-lab:"), err
    assert "\n" not in text and "Traceback" not in text, err
    return text


@pytest.mark.parametrize("name", ODD_NAMES)
def test_a_path_reaches_the_config_as_typed(name, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    folder = tmp_path / name
    for typed in (f"data.root=~/{name}", f"data.root={folder}"):
        cfg = compose("train", as_typed(["data=folder", typed]))
        assert cfg.data.root == str(folder)
    # A list stays a list of paths, each expanded and quoted (a quoted item keeps its comma); an
    # already quoted value is left alone, other keys are untouched.
    assert as_typed(["target=[a.png,b.png]", "data.root='x y'", "noise=normal"]) == [
        "target=['a.png','b.png']",
        "data.root='x y'",
        "noise=normal",
    ]
    if "," not in name:  # in a list an unquoted comma separates items: quote such an item
        typed = as_typed([f"target=[~/{name}/it's [1].png, 'a,b.png']"])
        assert compose("invert", typed).target == [f"{folder}/it's [1].png", "a,b.png"]
    # A comma in a sweep separates values; one in an existing folder's name does not.
    swept = as_typed(["-m", "data.root=~/a,~/b"])
    assert swept[1] == f"data.root='{tmp_path}/a','{tmp_path}/b'"
    (tmp_path / "a,b=c").mkdir()
    assert as_typed(["-m", f"data.root={tmp_path}/a,b=c"])[1] == f"data.root='{tmp_path}/a,b=c'"
    # A folder in the current one named like a list, or starting with a quote, is a folder.
    monkeypatch.chdir(tmp_path)
    for name in ("[1]", "'q'x", "'"):
        (tmp_path / name).mkdir()
        assert compose("train", as_typed(["data=folder", f"data.root={name}"])).data.root == name


@pytest.mark.parametrize(
    "args",
    [
        ["train", "data=folder", "data.root=~/{name}/x"],
        ["invert", "ckpt=~/{name}/x.ckpt", "target=~/{name}/t.png"],
        ["sample", "ckpt=~/{name}/x.ckpt", "out_dir=~/{name}/out"],
        ["score", "run_dir=~/{name}/x"],
        ["score", "~/{name}/x"],  # every folder command takes the folder bare too
        ["audit", "data=folder", "data.root=~/{name}/x"],
        ["preview", "data=folder", "data.root=~/{name}/x"],
        ["extractor", "data=folder", "data.root=~/{name}/x", "out=~/{name}/e.pt"],
        ["report", "~/{name}/x"],
        ["report", "dir=~/{name}/x"],
        ["summarize", "dir=~/{name}/x"],
        ["summarize", "~/{name}/x"],
    ],
    ids=lambda a: "-".join(x.split("=")[0] for x in a[:2]),
)
def test_every_command_takes_a_path_as_typed(args, gan_lab_cli, tmp_path, monkeypatch):
    """Each command is given a missing path under ~ with a name Hydra would misread: it names
    that very path (expanded) in one paragraph with exit 2, and leaves no folder behind."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    name = "my pics (2), ü='x'"
    code, _, err = gan_lab_cli(*[a.replace("{name}", name) for a in args])
    assert code == 2, err
    text = _one_paragraph(err)
    assert f"{tmp_path}/home/{name}/" in text, text
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("*.yaml"))


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["noise=doesnotexist"], "noise=doesnotexist is not an option of the noise group"),
        (["data=foldr"], "did you mean data=folder?"),
        (["++trainer.max_time=banana"], "trainer.max_time=banana is not valid"),
        (["trainer.max_time=ten"], "a duration"),
        (["--data", "folder"], "write data=folder"),
        (["noise.mean=[1"], "cannot be read"),
        (["data.name=my set (2)"], "Quote a value"),  # compose() alone would quote it
        (["data.rot=x"], "data.rot is not a key"),
        (["trainer.accelerator=banana"], "not an accelerator Lightning knows"),
        (["data=folder", "data.root=/nonexistent folder"], "/nonexistent folder does not exist"),
        (["-m", "noise=normal,doesnotexist"], "noise=doesnotexist is not an option"),
        (["-m", "hydra/launcher=banana"], "is not a launcher here"),
        (["trainer.max_time=1e400"], "trainer.max_time=inf is not valid"),
        (["trainer.max_time=99999999999d"], "trainer.max_time=99999999999d is not valid"),
        (["trainer.devices=4"], "add trainer=ddp"),  # Lightning's own DDP would hang for ever
        (["+trainer.gradient_clp_val=1"], "did you mean trainer.gradient_clip_val?"),
        (["+trainer.logger=false"], "gan-lab passes it itself"),
        (["~model.lr_g"], "~model.lr_g would remove model.lr_g"),  # crashed after the start
        (["~trainer.max_epochs"], "would remove trainer.max_epochs"),  # 1000 epochs, silently
    ],
)
def test_every_bad_start_is_one_paragraph_and_leaves_no_run_folder(
    args, says, gan_lab_cli, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    code, _, err = gan_lab_cli("train", "debug=tiny", *args)
    assert code == 2, err
    assert says in _one_paragraph(err)
    left = list((tmp_path / "outputs").rglob("*")) if (tmp_path / "outputs").exists() else []
    assert not [p for p in left if p.is_file()], left


def test_a_long_folder_name_gets_a_cache_folder_a_file_system_takes():
    from gan_lab.data.decoded import cache_folder

    for name in ("x" * 255, "ü" * 127):
        folder = cache_folder(Path("/c"), Path("/d") / name, 64, 3)
        assert len(folder.name.encode()) <= 255 and folder.name.startswith(name[:40])


@pytest.mark.parametrize(
    ("command", "args", "says"),
    [
        ("invert", ["restarts=100000000"], "restarts must be a whole number ≥ 1 and ≤ 1,024"),
        ("invert", ["zoom=100000"], "zoom must be"),
        ("invert", ["lr=nan"], "lr must be a number > 0"),
        ("invert", ["device=cuda:7"], "device=cuda:7 asks for a GPU"),
        ("cost", ["channels=2"], "channels=2 is not valid"),
        ("cost", ["n=4096", "image_size=1024"], "lower n or image_size"),
        ("audit", ["data=folder", "data.root=.", "data.audit.min_size=-3"], "min_size=-3"),
    ],
)
def test_a_tool_refuses_a_bad_value_in_one_paragraph(
    command, args, says, gan_lab_cli, tmp_path, monkeypatch
):
    """Values that crashed with a Traceback (or asked for terabytes) before the work starts."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    (tmp_path / "run" / "checkpoints" / "last.ckpt").write_bytes(b"not read: refused before")
    ckpt = [f"ckpt={tmp_path}/run/checkpoints/last.ckpt", "target=t.png"]
    ckpt = ckpt if command == "invert" else []
    code, _, err = gan_lab_cli(command, *ckpt, *args)
    assert code == 2, err
    assert says in _one_paragraph(err)


def test_a_machine_without_a_gpu_says_so(gan_lab_cli, tmp_path, monkeypatch):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    monkeypatch.chdir(tmp_path)
    code, _, err = gan_lab_cli("train", "debug=tiny", "trainer.accelerator=gpu")
    assert code == 2 and "does not have" in _one_paragraph(err)


def test_max_time_is_a_key_in_human_and_lightning_forms():
    from gan_lab.training.budget_rule import max_seconds

    for typed, seconds in (("10m", 600), ("1h30m", 5400), ("00:00:10:00", 600), ("45", 45)):
        for key in ("trainer.max_time", "+trainer.max_time"):
            cfg = compose("train", as_typed([f"{key}={typed}"]))
            assert max_seconds(cfg) == seconds


def _run_dirs(cwd: Path) -> list[Path]:
    return sorted(p for p in (cwd / "outputs").glob("*/*") if (p / "checkpoints").is_dir())


VARIANTS = {
    "folder": [],
    "small_data": ["experiment=small_data"],
    "conditional": ["model.conditional=true"],
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_same_line_plus_ckpt_path_continues_a_folder_run_bit_for_bit(
    variant, gan_lab_cli, tmp_path, monkeypatch
):
    """`gan-lab train data=folder data.root=~/my pics (2) ...` for 1 epoch, then the same line
    with ckpt_path= added: the same weights, optimiser states, rows and grids as 2 epochs
    straight (the reference is trained in-process from the same line: only how the two
    sessions are started is under test)."""
    home = tmp_path / "home"
    _digits(home / "my pics (2)", per_class=6)  # 18 images: 2 batches of 8 an epoch
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    line = [
        "data=folder",
        "data.root=~/my pics (2)",
        "data.image_size=32",
        *VARIANTS[variant],
        "debug=tiny",
        "data.batch_size=8",
        "trainer.deterministic=true",
        *QUIET,
        "trainer.fast_path=off",
    ]
    from conftest import make_cfg

    from gan_lab.training.train import train

    straight = tmp_path / "straight"
    train(make_cfg(straight, as_typed([*line, "trainer.max_epochs=2"])))
    assert gan_lab_cli("train", *line, "trainer.max_epochs=1")[0] == 0
    (again,) = _run_dirs(tmp_path)
    last = f"ckpt_path={again}/checkpoints/last.ckpt"
    code, _, err = gan_lab_cli("train", *line, "trainer.max_epochs=2", last)
    assert code == 0, err
    assert_same_run(straight, again)


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory) -> tuple[Path, Path]:
    """A 1-epoch conditional run on a digits folder: (data folder, run folder)."""
    from conftest import make_cfg

    from gan_lab.training.train import train

    base = tmp_path_factory.mktemp("restart")
    data = _digits(base / "data", per_class=6)
    run = base / "run"
    train(make_cfg(run, [*RESTART_ARGS, f"data.root={data}"]))
    return data, run


RESTART_ARGS = [
    "data=folder",
    "data.image_size=32",
    "model.conditional=true",
    "debug=tiny",
    "data.batch_size=8",
    "trainer.max_epochs=1",
    *QUIET,
    "trainer.fast_path=off",
]


def _resume(folder_run, tmp_path, *extra: str, data: Path | None = None):
    """The run's command line again with ckpt_path= and ``extra``, on a copy of the run."""
    import shutil

    from conftest import make_cfg

    from gan_lab.training.train import train

    data = data or folder_run[0]
    run = tmp_path / "run"
    shutil.copytree(folder_run[1], run)
    line = [*RESTART_ARGS, f"data.root={data}", "trainer.max_epochs=2"]
    line += [f"ckpt_path={run}/checkpoints/last.ckpt", *extra]
    return train(make_cfg(run, line), overrides=line), run


@pytest.mark.parametrize(
    ("extra", "refused"),
    [
        (["+trainer.gradient_clip_val=1.0"], "trainer.gradient_clip_val: (not set) → 1.0"),
        (["+trainer.accumulate_grad_batches=4"], "trainer.accumulate_grad_batches"),
        (["data.audit.min_size=8"], "data.audit.min_size: 32 → 8"),
        (["experiment=small_data"], "cannot change now"),
        (["model.lr_g=1"], "model.lr_g: 0.0002 → 1 cannot"),
        (["data.channels=3"], "data.channels: 1 → 3"),  # grey digits: auto chose 1
    ],
)
def test_a_key_that_changes_results_is_refused_stored_or_not(folder_run, tmp_path, extra, refused):
    from gan_lab.errors import UserError

    with pytest.raises(UserError, match="cannot change now") as err:
        _resume(folder_run, tmp_path, *extra)
    assert refused in str(err.value)


def test_what_only_shows_or_logs_may_change(folder_run, tmp_path):
    _, run = _resume(
        folder_run,
        tmp_path,
        *("logger=tensorboard", "metrics.every_n_epochs=0", "model.lr_g=auto", "data.channels=1"),
    )
    assert (run / "checkpoints" / "epoch_0002.ckpt").is_file()
    assert (run / "tensorboard").is_dir()


def test_samples_into_a_file_are_one_paragraph(folder_run, gan_lab_cli, tmp_path):
    _, run = folder_run
    (tmp_path / "taken").write_text("a file where the samples' folder would go")
    code, _, err = gan_lab_cli(
        "sample", f"ckpt={run}/checkpoints/last.ckpt", f"out_dir={tmp_path}/taken", "n=2"
    )
    assert code == 2 and "cannot be the samples' folder" in _one_paragraph(err)


def test_a_changed_training_set_is_refused_saying_what_changed(folder_run, tmp_path):
    import shutil

    from gan_lab.errors import UserError

    data = tmp_path / "data"
    shutil.copytree(folder_run[0], data)  # copied: new paths, new file times, the same set
    os.utime(next((data / "0").iterdir()), (1, 1))
    _resume(folder_run, tmp_path / "same", data=data)

    (next((data / "7").iterdir())).unlink()
    first = sorted((data / "1").iterdir())[0]
    Image.open(first).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(first)
    with pytest.raises(UserError) as err:
        _resume(folder_run, tmp_path / "edited", data=data)
    said = str(err.value)
    assert (
        "1 image(s) removed ('7/" in said
        and f"1 image(s) with other pixels ('1/{first.name}')" in said
    )
    assert "allow_data_change=true" in said
    # Said knowingly: it goes on.
    _resume(folder_run, tmp_path / "allowed", "allow_data_change=true", data=data)

    # A class folder that sorts first renumbers the others: relabelled, and a conditional model
    # cannot take a new class count even when allowed.
    shutil.copytree(data / "1", data / "00")
    with pytest.raises(UserError, match="built for 3 classes and the data now have 4"):
        _resume(folder_run, tmp_path / "classes", "allow_data_change=true", data=data)


@pytest.mark.parametrize("command", ["train", "invert", "score", "report"])
def test_every_command_says_gan_labs_version(command, gan_lab_cli):
    from gan_lab import __version__

    code, out, _ = gan_lab_cli(command, "--version")
    assert code == 0 and out.strip() == f"gan-lab {__version__}"


def test_one_name_for_the_output_folder_and_the_device_in_every_command(gan_lab_cli):
    from gan_lab.cli.args import common_names

    assert common_names("preview", ["out_dir=/x"]) == ["preview.out_dir=/x"]
    assert common_names("tune", ["out_dir=/x", "device=cpu"]) == ["tune.dir=/x", "device=cpu"]
    assert common_names("train", ["device=cuda:1"]) == [
        "trainer.accelerator=gpu",
        "trainer.devices=[1]",
    ]
    assert common_names("train", ["device=cpu"]) == ["trainer.accelerator=cpu"]
    assert common_names("sample", ["out_dir=/x", "device=cpu"]) == ["out_dir=/x", "device=cpu"]
    code, out, _ = gan_lab_cli("preview", "out_dir=/tmp/somewhere else", "--cfg", "job")
    assert code == 0 and "out_dir: /tmp/somewhere else" in out
    code, out, _ = gan_lab_cli("train", "device=cpu", "--cfg", "job")
    assert code == 0 and "accelerator: cpu" in out


def test_a_refused_resume_leaves_no_session_record(trained_run, tmp_path, gan_lab_cli):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / ".hydra").mkdir(exist_ok=True)  # as a run started by the command has it
    (run / ".hydra" / "config.yaml").write_text("seed: 0\n")
    before = sorted(
        p.relative_to(run) for p in run.rglob("*") if p.name not in (".lock", "train.log")
    )
    last = f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}"
    code, _, err = gan_lab_cli("train", "debug=tiny", "trainer.max_epochs=3", "seed=5", last)
    assert code == 2 and "seed: 0 → 5" in _one_paragraph(err)
    after = sorted(
        p.relative_to(run) for p in run.rglob("*") if p.name not in (".lock", "train.log")
    )
    assert after == before  # no .hydra/sessions/<time>/ of a session that never trained
