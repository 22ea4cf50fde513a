"""invert.py (design §7): recovery of a known vector, frozen weights, edits, interpolation, compare,
and the errors a user can make."""

import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT
from omegaconf import OmegaConf
from PIL import Image
from torchvision.utils import save_image

from gan_lab.config import compose
from gan_lab.core.ema import EMA_PREFIX
from gan_lab.errors import UserError, friendly
from gan_lab.latent.figures import to_uint8
from gan_lab.latent.images import load_target
from gan_lab.latent.interpolation import interpolate
from gan_lab.latent.inversion import invert
from gan_lab.latent.run import procedure, run
from gan_lab.models import to_unit
from gan_lab.training.checkpoint import load_gan


def invert_cfg(out, *overrides: str) -> dict:
    """conf/invert.yaml with its defaults, as invert.py would see it, writing into ``out``."""
    cfg = compose("invert", [*overrides, f"out_dir={out}"])
    return OmegaConf.to_container(cfg, resolve=True)


def cli(*args, timeout=180):
    return subprocess.run(
        [sys.executable, "invert.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def ckpt(trained_run):
    return trained_run / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def made_targets(ckpt, tmp_path_factory):
    """Two PNG targets drawn by the generator itself from known vectors z*, and those vectors."""
    gan = load_gan(ckpt)
    torch.manual_seed(1234)
    z_star = gan.noise.sample(2, gan.generator.latent_dim)
    folder = tmp_path_factory.mktemp("targets")
    with torch.no_grad():
        images = gan.generator(z_star)
    paths = [folder / "a.png", folder / "b.png"]
    for image, path in zip(images, paths, strict=True):
        lo, hi = gan.value_range  # a PNG holds [0, 1]: map a tanh generator's [-1, 1] first
        save_image((image - lo) / (hi - lo), path)
    return paths, z_star


def test_known_vector_is_recovered_with_the_defaults(ckpt, made_targets, tmp_path):
    (target, _), _ = made_targets
    result = run(invert_cfg(tmp_path, f"ckpt={ckpt}", f"target={target}"))
    assert result["mse"] < 1e-3
    for name in (
        "evolution.png",
        "evolution.gif",
        "z.pt",
        "target_vs_reconstruction.png",
        "loss.png",
    ):
        assert (tmp_path / name).stat().st_size > 0, name
    with Image.open(tmp_path / "evolution.gif") as gif:
        assert gif.n_frames >= 5
    # the saved vector renders the reconstruction again
    gan = load_gan(ckpt)
    with torch.no_grad():
        again = gan.generator(torch.load(tmp_path / "z.pt", weights_only=True))
    lo, hi = gan.value_range  # compare on the [0, 1] scale, as the reported MSE is
    assert torch.mean(((again - load_target(target, gan)) / (hi - lo)) ** 2) < 1e-3


def test_generator_weights_are_bit_for_bit_unchanged(ckpt, made_targets):
    (target, _), _ = made_targets
    gan = load_gan(ckpt)
    before = {k: v.clone() for k, v in gan.generator.state_dict().items()}
    settings = procedure(compose("invert", ["steps=30", "restarts=2"]))
    result = invert(gan.generator, load_target(target, gan), gan.noise, gan.value_range, **settings)
    assert result.losses[-1].max() < result.losses[0].max()  # z did move
    after = gan.generator.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)  # incl. BatchNorm running stats
    stored = torch.load(ckpt, weights_only=True)["state_dict"]
    prefix = EMA_PREFIX if any(k.startswith(EMA_PREFIX) for k in stored) else "generator."
    assert all(torch.equal(stored[f"{prefix}{k}"], after[k]) for k in after)
    assert all(p.grad is None for p in gan.generator.parameters())
    assert not gan.generator.training


def test_unrelated_image_inverts_with_a_higher_mse(ckpt, tmp_path, gan_lab_cli):
    # a 50×70 RGBA checkerboard: other size, other mode, nothing like the built-in shapes
    board = (np.indices((70, 50)).sum(0) // 5 % 2 * 255).astype(np.uint8)
    rgba = np.stack([board, 255 - board, board, np.full_like(board, 255)], -1)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "board.png")
    code, stdout, stderr = gan_lab_cli(  # `gan-lab invert` in-process: the same Hydra app
        "invert",
        f"ckpt={ckpt}",
        f"target={tmp_path / 'board.png'}",
        "steps=30",
        f"hydra.run.dir={tmp_path / 'o'}",
    )
    assert code == 0, stderr
    mse = float(re.search(r"final MSE ([0-9.e+-]+)", stdout).group(1))
    assert mse > 1e-2
    assert (tmp_path / "o" / "target_vs_reconstruction.png").is_file()


def test_edit_grid_from_a_saved_vector(ckpt, made_targets, tmp_path):
    _, z_star = made_targets
    torch.save(z_star[:1], tmp_path / "z.pt")
    cfg = invert_cfg(
        tmp_path,
        "mode=edit",
        f"ckpt={ckpt}",
        f"z={tmp_path / 'z.pt'}",
        "coords=[3,17]",
        "amounts=[-3,0,3]",
    )
    edits = run(cfg)["edits"]
    assert (tmp_path / "edits.png").stat().st_size > 0
    gan = load_gan(ckpt)
    with torch.no_grad():
        plain = to_unit(gan.generator(z_star[:1])[0], gan.value_range)
    assert len(edits) == 6  # rows = coordinates, columns = amounts
    assert torch.equal(edits[1], plain) and torch.equal(edits[4], plain)  # amount 0 = z itself
    assert not torch.equal(edits[0], plain) and not torch.equal(edits[5], plain)
    assert not torch.equal(edits[0], edits[3])  # two coordinates, two different effects


def test_interpolation_ends_are_g_of_the_two_vectors(ckpt, made_targets, tmp_path):
    (a, b), _ = made_targets
    result = run(
        invert_cfg(
            tmp_path,
            "mode=interpolate",
            f"ckpt={ckpt}",
            f"target={a}",
            f"target_b={b}",
            "steps=20",
            "interp_steps=6",
            "spherical=true",
            "zoom=1",
        )
    )
    gan = load_gan(ckpt)
    z_a = torch.load(tmp_path / "a_z.pt", weights_only=True)
    z_b = torch.load(tmp_path / "b_z.pt", weights_only=True)
    with torch.no_grad():  # frames are on the [0, 1] scale
        g_a, g_b = (to_unit(gan.generator(z)[0], gan.value_range) for z in (z_a, z_b))
    frames = result["frames"]
    assert len(frames) == 6
    assert torch.equal(frames[0], g_a) and torch.equal(frames[-1], g_b)
    assert not torch.equal(frames[2], g_a) and not torch.equal(frames[2], g_b)
    # the strip PNG holds exactly those pixels: tiles of 32 px, 2 px apart
    strip = torch.from_numpy(np.array(Image.open(tmp_path / "interpolation.png"))).permute(2, 0, 1)
    assert torch.equal(strip[:, 2:34, 2:34], to_uint8(g_a))
    assert torch.equal(strip[:, 2:34, -34:-2], to_uint8(g_b))
    assert (tmp_path / "interpolation.gif").is_file()


@pytest.mark.parametrize("spherical", [False, True])
def test_interpolation_path_is_exact_at_both_ends(spherical):
    z_a, z_b = torch.randn(1, 128), torch.randn(1, 128)
    path = interpolate(z_a, z_b, 7, spherical)
    assert torch.equal(path[0], z_a[0]) and torch.equal(path[-1], z_b[0])
    if spherical:  # the middle keeps the norm of the ends instead of cutting through the ball
        assert path[3].norm() > 0.9 * min(z_a.norm(), z_b.norm())


def test_compare_two_checkpoints_in_one_figure(trained_run, made_targets, tmp_path, gan_lab_cli):
    (a, _), _ = made_targets
    code, stdout, stderr = gan_lab_cli(
        "invert",
        "mode=compare",
        f"ckpt={trained_run / 'checkpoints' / 'epoch_0001.ckpt'}",
        f"ckpt_b={trained_run / 'checkpoints' / 'last.ckpt'}",
        f"target={a}",
        "steps=10",
        f"hydra.run.dir={tmp_path / 'o'}",
    )
    assert code == 0, stderr
    assert (tmp_path / "o" / "compare.png").stat().st_size > 0
    assert re.search(r"A = .*epoch_0001.ckpt: mean final MSE", stdout)
    assert re.search(r"B = .*last.ckpt: mean final MSE", stdout)


def test_edit_coordinate_out_of_range_is_a_user_error(ckpt, tmp_path):
    torch.save(torch.zeros(1, 128), tmp_path / "z.pt")
    with pytest.raises(UserError, match=r"coords: \[128\] out of range.*0 to 127"):
        run(
            invert_cfg(
                tmp_path, "mode=edit", f"ckpt={ckpt}", f"z={tmp_path / 'z.pt'}", "coords=[5,128]"
            )
        )


def _bad_inputs(tmp_path, ckpt):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    torch.save({"state_dict": {}}, tmp_path / "foreign.ckpt")
    torch.save(torch.zeros(1, 128), tmp_path / "z.pt")
    return {
        "missing target": (
            [f"ckpt={ckpt}", f"target={tmp_path / 'nope.jpg'}"],
            ["nope.jpg", "does not exist"],
        ),
        "unreadable image": (
            [f"ckpt={ckpt}", f"target={tmp_path / 'broken.png'}"],
            ["broken.png", "not a readable image"],
        ),
        "foreign checkpoint": (
            [f"ckpt={tmp_path / 'foreign.ckpt'}", f"target={tmp_path / 'broken.png'}"],
            ["foreign.ckpt", "not a gan-lab checkpoint"],
        ),
        "coordinate out of range": (
            ["mode=edit", f"ckpt={ckpt}", f"z={tmp_path / 'z.pt'}", "coords=[999]"],
            ["coords", "999", "out of range"],
        ),
    }


@pytest.mark.parametrize(
    "case", ["missing target", "unreadable image", "foreign checkpoint", "coordinate out of range"]
)
def test_user_errors_are_one_paragraph_exit_2(case, ckpt, tmp_path, capsys):
    args, words = _bad_inputs(tmp_path, ckpt)[case]
    if case == "foreign checkpoint":  # the real command, in its own process
        res = cli(*args, f"hydra.run.dir={tmp_path / 'o'}")
        code, stderr = res.returncode, res.stderr
    else:  # the same wrapper in-process: a Python start-up costs ~5 s on a busy 2-core machine
        with pytest.raises(SystemExit) as exited:
            friendly(run)(invert_cfg(tmp_path / "o", *args))
        code, stderr = exited.value.code, capsys.readouterr().err
    assert code == 2, stderr
    assert "Traceback" not in stderr
    message = stderr.strip().splitlines()[-1]
    assert all(w in message for w in words), message
