"""The commands a user types: clear one-paragraph errors, sampling from a checkpoint."""

import os
import subprocess
import sys

import pytest
from conftest import ROOT
from PIL import Image

from gan_lab.cli.sample import main as sample_main
from gan_lab.training.sampling import sample


def run(*args, timeout=120):
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_missing_data_folder_is_one_paragraph_not_a_traceback(tmp_path, gan_lab_cli):
    """In-process `gan-lab train` (test_schema starts train.py itself for the same exit path)."""
    code, _, stderr = gan_lab_cli(
        "train",
        "generator=upsample",
        "data=monet",
        f"data.root={tmp_path / 'missing'}",
        f"hydra.run.dir={tmp_path / 'out'}",
    )
    assert code == 2
    assert "Traceback" not in stderr
    msg = stderr.strip().splitlines()[-1]
    assert "data=monet" in msg and "monet_jpg" in msg and str(tmp_path / "missing") in msg


def test_sample_writes_n_images_from_checkpoint_alone(trained_run, tmp_path):
    files = sample(
        ckpt=str(trained_run / "checkpoints" / "last.ckpt"),
        n=10,
        out_dir=tmp_path / "s",
        batch_size=4,
    )
    assert len(files) == 10 and len(list((tmp_path / "s").glob("*.png"))) == 10
    with Image.open(files[0]) as im:
        assert im.size == (32, 32)


def test_sample_command_line(trained_run, tmp_path):
    res = run(
        "-m",
        "gan_lab",
        "sample",
        f"ckpt={trained_run / 'checkpoints' / 'epoch_0001.ckpt'}",
        "n=3",
        f"out_dir={tmp_path / 'cli'}",
    )
    assert res.returncode == 0, res.stderr
    assert len(list((tmp_path / "cli").glob("*.png"))) == 3


def test_sample_rejects_foreign_checkpoint(tmp_path, capsys):
    import torch

    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.ckpt")
    with pytest.raises(SystemExit) as err:
        sample_main([f"ckpt={tmp_path / 'other.ckpt'}", f"out_dir={tmp_path}"])
    assert err.value.code == 2
    assert "not a gan-lab checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("loader", "what"),
    [
        ("gan_lab.training.checkpoint:read_checkpoint", "checkpoint"),
        ("gan_lab.metrics.classifier:ClassifierFeatures.load", "feature extractor file"),
        ("gan_lab.latent.images:load_z", "latent vector file"),
    ],
)
def test_missing_or_garbage_torch_files_are_named_user_errors(tmp_path, loader, what):
    import importlib

    from gan_lab.errors import UserError

    module, attr = loader.split(":")
    fn = importlib.import_module(module)
    for part in attr.split("."):
        fn = getattr(fn, part)
    args = (128,) if attr == "load_z" else ()
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a torch file")
    with pytest.raises(UserError, match=f"{what} .*missing.pt does not exist"):
        fn(tmp_path / "missing.pt", *args)
    with pytest.raises(UserError, match=f"garbage.pt is not a readable {what}"):
        fn(garbage, *args)


def test_gan_lab_lists_its_commands_and_each_answers_help(capsys):
    from hydra.core.global_hydra import GlobalHydra

    from gan_lab.cli.main import COMMANDS
    from gan_lab.cli.main import main as gan_lab

    assert gan_lab(["--help"]) == 0
    listed = capsys.readouterr().out
    for name in ("train", "invert", "sample", "score", "audit", "preview", "report", "summarize"):
        assert f"\n  {name} " in listed, name
    argv = sys.argv
    try:
        for name in COMMANDS:
            assert gan_lab([name, "--help"]) == 0, name
            GlobalHydra.instance().clear()
            text = capsys.readouterr().out
            assert f"gan-lab {name}" in text, (name, text[:200])
    finally:
        sys.argv = argv
    assert gan_lab(["trian"]) == 2
    assert "'trian' is not a command" in capsys.readouterr().err


def test_tools_print_their_composed_config(capsys):
    from gan_lab.cli.main import main as gan_lab

    gan_lab(["sample", "--cfg", "job", "ckpt=x.ckpt", "n=3"])
    out = capsys.readouterr().out
    assert "ckpt: x.ckpt" in out and "'n': 3" in out


@pytest.mark.slow
def test_an_installed_gan_lab_trains_and_samples_from_another_folder(tmp_path):
    """pip install <checkout> (not editable) into a fresh virtual environment; the configs come
    with the package, data/ and outputs/ are the working folder's."""
    venv = tmp_path / "venv"
    # --without-pip: the venv sees this Python's pip and setuptools (a new venv's own may be too
    # old for the PEP 639 licence field), so the install needs nothing from the network.
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv], check=True
    )
    py = venv / "bin" / "python"
    pip = [py, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(ROOT)]
    subprocess.run(pip, check=True, timeout=300)
    where = tmp_path / "elsewhere"
    where.mkdir()
    exe = str(venv / "bin" / "gan-lab")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # nothing from the checkout

    def gan_lab(*args):
        return subprocess.run(
            [exe, *args], cwd=where, env=env, capture_output=True, text=True, timeout=300
        )

    located = subprocess.run(
        [py, "-c", "import gan_lab; print(gan_lab.__file__)"],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(venv) in located  # the installed copy, not the checkout
    res = gan_lab("--help")
    assert res.returncode == 0 and "sample" in res.stdout
    for name in ("train", "invert", "sample", "score", "audit", "report"):
        assert gan_lab(name, "--help").returncode == 0, name
    res = gan_lab("train", "debug=tiny", "logger=none", "trainer.max_epochs=1")
    assert res.returncode == 0, res.stderr[-2000:]
    (last,) = (where / "outputs").rglob("last.ckpt")
    assert (last.parents[1] / "report.html").is_file()  # the report's templates came along too
    res = gan_lab("sample", f"ckpt={last}", "n=3", "out_dir=drawn")
    assert res.returncode == 0, res.stderr[-2000:]
    assert len(list((where / "drawn").glob("*.png"))) == 3


def test_a_run_says_each_thing_once_without_advertisements(tmp_path):
    """The console of a real `gan-lab train`: no line twice (Hydra's handler and Lightning's own
    both printing), no advertisement, and the start-up paragraph saying where and how to resume."""
    import re

    res = run(
        "-m",
        "gan_lab",
        "train",
        "debug=tiny",
        "trainer.max_epochs=1",
        "logger=none",
        "callbacks.samples.gif=false",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert res.returncode == 0, res.stderr
    said = [
        re.sub(r"^(\[[^]]*\]){2}\[\w+\] - |^\w+: ", "", line).strip()
        for line in (res.stdout + res.stderr).splitlines()
        if line.strip()
    ]
    twice = sorted({line for line in said if said.count(line) > 1})
    assert not twice, twice
    text = "\n".join(said)
    assert "litlogger" not in text and "Tip" not in text and "logging interval" not in text
    assert f"Run folder: {tmp_path / 'run'}" in text
    assert f"ckpt_path={tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}" in text


def test_help_lists_each_commands_own_keys_with_the_schemas_words(gan_lab_cli):
    from gan_lab.config.reference import markdown
    from gan_lab.config.schema import SAMPLE, TRAIN

    code, out, _ = gan_lab_cli("train", "--help")
    assert code == 0 and "_target_" not in out
    assert "data           builtin | cakes | cars | digits | folder | mnist | monet" in out
    for key, rule in TRAIN.items():
        if not key.endswith("_target_"):
            assert f"  {key}" in out and rule.meaning in out, key
    code, out, _ = gan_lab_cli("invert", "--help")
    assert code == 0 and "ckpt" in out and "Groups" not in out and "tune_space" not in out
    code, out, _ = gan_lab_cli("sample", "--help")
    assert code == 0 and all(f"  {k}" in out for k in SAMPLE)
    reference = markdown()  # the docs' page: every key of every table
    for table in ("TRAIN", "SAMPLE", "SCORE", "PREVIEW", "EXTRACTOR", "TUNE"):
        from gan_lab.config import schema

        missing = [
            k
            for k in getattr(schema, table)
            if not k.endswith("_target_") and f"`{k}`" not in reference
        ]
        assert not missing, (table, missing)


def test_shell_completion_goes_through_gan_lab(gan_lab_cli, monkeypatch):
    code, out, _ = gan_lab_cli("-sc", "install=bash")
    assert code == 0 and out.rstrip().endswith("-F hydra_bash_completion gan-lab")
    for line, expected in (
        ("gan-lab tr", "train"),
        ("gan-lab train data=fo", "data=folder"),
        ("gan-lab train noise.", "noise.mean="),
    ):
        monkeypatch.setenv("COMP_LINE", line)
        monkeypatch.setenv("COMP_POINT", str(len(line)))
        code, out, _ = gan_lab_cli("-sc", "query=bash")
        assert code == 0 and expected in out.split(), (line, out)
