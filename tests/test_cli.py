"""The commands a user types: clear one-paragraph errors, sampling from a checkpoint."""

import subprocess
import sys

import pytest
from conftest import ROOT
from PIL import Image

from gan_lab.sample import main as sample_main
from gan_lab.sample import sample


def run(*args, timeout=120):
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_missing_data_folder_is_one_paragraph_not_a_traceback(tmp_path):
    res = run(
        "train.py",
        "generator=upsample",
        "data=monet",
        f"data.root={tmp_path / 'missing'}",
        f"hydra.run.dir={tmp_path / 'out'}",
    )
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    msg = res.stderr.strip().splitlines()[-1]
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
        "gan_lab.sample",
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
        ("gan_lab.checkpoint:read_checkpoint", "checkpoint"),
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
