"""tune.confirm_seeds: the best recipe and the centre again on fresh seeds, their difference with
Welch's interval on the command's last line and the study page."""

import math

import pytest
from scipy import stats as scipy_stats

from gan_lab.cli.main import main as gan_lab_main
from gan_lab.runs import layout
from gan_lab.tune.confirm import ATTR, UNCONFIRMED, comparison, seeds_of


def record(best: list[float], centre: list[float]) -> dict:
    scores = {f"best:{i + 1}": v for i, v in enumerate(best)}
    scores |= {f"centre:{i + 1}": v for i, v in enumerate(centre)}
    return {"best": 7, "centre": 0, "metric": "fid_shapes", "scores": scores}


def test_the_comparison_says_which_is_better_and_when_it_cannot_tell():
    clear = comparison(record([3.1, 1.8, 2.5], [14.1, 9.8, 12.0]))
    ref = scipy_stats.ttest_ind([3.1, 1.8, 2.5], [14.1, 9.8, 12.0], equal_var=False)
    ci = ref.confidence_interval()
    assert (clear["diff"].low, clear["diff"].high) == (
        pytest.approx(ci.low),
        pytest.approx(ci.high),
    )
    assert clear["verdict"] == "the best is better"
    assert "best (trial 7) 2.467 [" in clear["line"] and "(Welch 95 %)" in clear["line"]
    noise = comparison(record([10.0, 14.0, 9.0], [12.0, 8.5, 13.0]))
    assert noise["verdict"].startswith("not distinguishable")
    lucky = comparison(record([20.0, 21.0, 19.5], [10.0, 11.0, 10.5]))
    assert lucky["verdict"].startswith("the centre is better")
    one = comparison(record([3.0, math.nan], [9.0, 8.0]))  # a failed run counts as no score
    assert "no interval" in one["line"] and one["best"].n == 1
    same = comparison({"note": "the best trial is the centre: nothing to compare"})
    assert "nothing to compare" in same["line"]
    assert comparison(None) is None
    assert "tune.confirm_seeds=3" in UNCONFIRMED.format(done=5)


def test_fresh_seeds_follow_the_studys_own_seed():
    assert seeds_of(["data=builtin"], 3) == [1, 2, 3]  # never 0: the seed the best was picked on
    assert seeds_of(["seed=10", "model.lr_g=1e-4"], 2) == [11, 12]


@pytest.mark.slow  # a 6-second study, then 4 confirmation runs of 2 s (~1 min on 2 cores)
def test_a_confirmed_study_prints_and_shows_the_difference(tmp_path, capsys):
    from test_tune import FAST, study_of

    from gan_lab.metrics.classifier import data_config, train_extractor

    extractor = tmp_path / "shapes.pt"
    train_extractor(data_config("builtin", ["data.num_images=128"]), extractor, epochs=1)
    folder = tmp_path / "study"
    args = [*FAST, "tune.budget=6s", "tune.slice=2s", f"tune.extractor={extractor}"]
    assert gan_lab_main(["tune", *args, f"tune.dir={folder}"]) == 0
    assert UNCONFIRMED.split(":")[0] in capsys.readouterr().out
    # The same command with confirm_seeds: the budget is spent, so it only confirms.
    assert gan_lab_main(["tune", *args, "tune.confirm_seeds=2", f"tune.dir={folder}"]) == 0
    out = capsys.readouterr().out
    rec = study_of(folder).user_attrs[ATTR]
    page = (folder / layout.REPORT).read_text()
    assert "Is the best better than the centre?" in page
    if rec.get("note"):  # the centre won the tiny study: nothing to compare, and said
        assert "nothing to compare" in out and "nothing to compare" in page
        return
    assert sorted(rec["scores"]) == ["best:1", "best:2", "centre:1", "centre:2"]
    assert layout.confirm_dir(folder, "centre", 2).is_dir()
    assert "confirmation on 2 fresh seeds: fid_shapes best (trial" in out
    assert "(Welch 95 %)" in page and "each seed" in page
