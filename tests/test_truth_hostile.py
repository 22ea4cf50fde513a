"""Issue 35's new readers against a hostile input (a folder, a cache file or a command line from
someone else): each defect found is a test here — a number or one paragraph, never a traceback."""

import logging
from pathlib import Path

import pytest
import torch
from PIL import Image, PngImagePlugin

from gan_lab.cli.args import seed_axis
from gan_lab.data import digits
from gan_lab.errors import UserError
from gan_lab.metrics import realpool
from gan_lab.metrics.best import best_row, best_unflagged, higher_is_better
from gan_lab.report.run.best import skipped_for
from gan_lab.report.run.samples import grid_psi, label
from gan_lab.runs import layout
from gan_lab.runs.seeds import BEST_ONE_SEED, RAW, pooled
from gan_lab.runs.stats import spread, welch
from gan_lab.tune.confirm import comparison, values


def test_a_sweep_s_absurd_scores_are_numbers_not_a_traceback():
    # metrics.csv is the folder's data: 1e200 squared raised OverflowError, 1e-100's Welch
    # degrees of freedom divided 0 by 0 (ZeroDivisionError), and the summary died with them.
    assert spread([1e200, -1e200]).sd == pytest.approx(2**0.5 * 1e200)
    assert spread([1e308, 1e308]).mean == 1e308
    tiny = welch([1e-100, 2e-100], [3e-100, 5e-100])
    assert tiny.diff == pytest.approx(-2.5e-100) and 0 < tiny.p < 1 and tiny.df > 1
    # the same comparison in ordinary units: the statistics do not depend on the unit
    plain = welch([1.0, 2.0], [3.0, 5.0])
    assert (tiny.p, tiny.df) == (pytest.approx(plain.p), pytest.approx(plain.df))
    assert welch([1e300, 1e300], [1e150, 2e150]).p == 0.0  # one side's variance underflowed
    rows = [
        {"seed": str(s), "lr": lr, "status": "ok", RAW: {"val/fid": v}}
        for lr, values in {"a": [1e200, -1e200], "b": [1e-100, 2e-100]}.items()
        for s, v in enumerate(values)
    ]
    table = pooled(rows, ["seed", "lr"], "auto", "val/fid", higher_is_better)
    assert [s.values["lr"] for s in table.settings] == ["a", "b"]  # mean 0 < 1.5e-100
    assert table.settings[1].versus.noise  # ±1e201 around it: inside the noise


@pytest.mark.parametrize("value", ["²", "１２", "-1", "1e3", "10000"])
def test_sweep_seeds_that_is_no_ascii_whole_number_is_one_paragraph(value):
    # '²'.isdigit() is True and int('²') raised ValueError: a traceback for a typo
    with pytest.raises(UserError, match="not a number of seeds"):
        seed_axis("train", ["-m", f"sweep.seeds={value}"])


class Scorer:
    """An extractor stand-in: the first pixels as features (the cache only stores them)."""

    device, identity = "cpu", "test"

    def features(self, x, what):
        flat = x.flatten(1).double()
        return flat[:, :4], flat[:, :3]


def test_a_cache_file_of_nan_features_is_computed_again(tmp_path, caplog):
    images = torch.randint(0, 255, (20, 3, 4, 4), dtype=torch.uint8)
    fresh = realpool.real_pool(Scorer(), images, 5, 10, 0, "key", tmp_path)
    (path,) = (tmp_path / realpool.FOLDER).iterdir()
    blob = torch.load(path, weights_only=True)
    blob["feats"][3] = float("nan")  # a corrupt or planted cache file: every score NaN
    torch.save(blob, path)
    with caplog.at_level(logging.WARNING):
        again = realpool.real_pool(Scorer(), images, 5, 10, 0, "key", tmp_path)
    assert torch.equal(again.feats, fresh.feats)
    assert "computing them again" in caplog.text
    assert torch.isfinite(torch.load(path, weights_only=True)["feats"]).all()  # rewritten


def test_best_skips_only_yes_and_never_picks_an_infinite_score():
    # scores.csv / metrics.csv are the folder's data: "-inf" was the lowest FID, so the best; a
    # "no" in memorising was truthy, so the report said that checkpoint was passed over
    rows = [
        {"epoch": 1, "val/fid": "-inf", "memorising": ""},
        {"epoch": 2, "val/fid": "3.0", "memorising": "no"},
        {"epoch": 3, "val/fid": "2.0", "memorising": "YES"},
        {"epoch": 4, "val/fid": "5.0", "memorising": ""},
    ]
    best, skipped = best_unflagged(rows, "val/fid")
    assert best["epoch"] == 2 and [r["epoch"] for r in skipped] == [3]
    assert [r["epoch"] for r in skipped_for(rows, "val/fid", 2)] == [3]
    assert best_row([{"val/precision": "inf"}, {"val/precision": "0.5"}], "val/precision") == {
        "val/precision": "0.5"
    }


@pytest.mark.parametrize(
    "chunk, shown",
    [("0.7", "0.7"), ("<script>alert(1)</script>", None), ("nan", None), ("-1", None), ("1", None)],
)
def test_a_grid_s_psi_chunk_is_captioned_only_as_a_psi(tmp_path, chunk, shown):
    # the chunk was shown as it stood: "truncated ψ=<script>" (escaped) or "ψ=nan" under a grid
    info = PngImagePlugin.PngInfo()
    info.add_text(layout.GRID_PSI, chunk)
    path = tmp_path / "grid.png"
    Image.new("RGB", (4, 4)).save(path, pnginfo=info)
    assert grid_psi(path) == shown
    assert label(3, path) == ("epoch 3" if shown is None else f"epoch 3, truncated ψ={shown}")


def test_digits_folder_that_is_a_file_or_cannot_be_listed_is_one_paragraph(tmp_path, monkeypatch):
    root = tmp_path / "digits"
    root.write_text("not a folder")
    with pytest.raises(UserError, match="is a file, not the digits' folder"):
        digits.write_digits(root)
    root.unlink()
    for c in digits.CLASSES:
        (root / c).mkdir(parents=True)
    listed = Path.iterdir

    def refuse(self):  # a class folder without read permission (the tests run as root here)
        if self.name == "3":
            raise PermissionError(13, "Permission denied", str(self))
        return listed(self)

    monkeypatch.setattr(Path, "iterdir", refuse)
    with pytest.raises(UserError, match="cannot be read .Permission denied"):
        digits.write_digits(root)


def test_a_setting_of_several_seeds_behind_a_one_seed_best_is_not_called_one_seed():
    rows = [
        {"seed": str(s), "lr": lr, "status": "ok", RAW: {"val/fid": v}}
        for lr, values in {"lucky": [4.0], "solid": [5.0, 5.2, 4.9]}.items()
        for s, v in enumerate(values)
    ]
    table = pooled(rows, ["seed", "lr"], "auto", "val/fid", higher_is_better)
    lucky, solid = table.settings
    assert lucky.verdict.startswith("best (one seed")
    assert solid.n == 3 and solid.verdict == BEST_ONE_SEED  # was "one seed: no interval"


@pytest.mark.parametrize(
    "rec",
    [
        "not a record",
        ["best"],
        {"best": 3, "centre": 0, "scores": ["best:1", 2.0]},
        {"best": 3, "centre": 0, "scores": {"best:1": "4.2", "best:2": None, "centre:1": [1]}},
    ],
)
def test_a_confirmation_record_of_another_shape_is_no_score_not_a_traceback(rec):
    # the study's journal is a folder's data: a string score made math.isfinite raise TypeError
    said = comparison(rec)
    assert said is None or "fewer than two seeds a side" in said["verdict"]
    assert values(rec, "best") == []


def test_a_confirmation_record_with_good_scores_still_compares():
    scores = {"best:1": 4.0, "best:2": 4.2, "best:3": float("nan"), "centre:1": 9.0}
    rec = {"best": 3, "centre": 0, "scores": {**scores, "centre:2": 9.5}}
    assert values(rec, "best") == [4.0, 4.2]
    assert comparison(rec)["verdict"] == "the best is better"


def test_a_duplicated_training_image_still_catches_its_copies():
    """Two identical training rows: each one's radius is its nearest *different* image's distance,
    so a sample equal to them (or next to them) is a copy, not hidden by a radius of 0."""
    from gan_lab.metrics.memorisation import Reference

    train = torch.tensor([[0.0, 0.0], [0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    ref = Reference(train)
    assert ref.radii[0] == 3.0 and ref.radii[1] == 3.0
    match = ref.match(torch.tensor([[0.0, 0.0], [0.1, 0.0], [10.0, 10.0]]))
    assert match["copy"].tolist() == [True, True, False]
