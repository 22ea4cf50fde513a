"""Seeds in every comparison: the statistics (against scipy), a sweep's settings pooled over seeds,
ranked and marked inside the noise or not, the sweep.seeds=N shorthand, and (slow) a real sweep."""

import csv
import math
from pathlib import Path

import pytest
from conftest import TINY, gan_lab_in_process
from scipy import stats as scipy_stats

from gan_lab.cli.args import seed_axis
from gan_lab.errors import UserError
from gan_lab.metrics.best import higher_is_better
from gan_lab.runs.seeds import NOT_DISTINGUISHABLE, ONE_SEED, RAW, WORSE, pooled
from gan_lab.runs.stats import holm, spread, t_cdf, t_quantile, welch
from gan_lab.runs.sweep import write_tables


def test_t_quantiles_and_cdf_match_scipy():
    for df in (1, 1.5, 2, 2.7, 4, 9, 30, 300):  # Welch's degrees of freedom are not whole
        for p in (0.025, 0.5, 0.9, 0.975, 0.9995):
            assert t_quantile(p, df) == pytest.approx(scipy_stats.t.ppf(p, df), rel=1e-9)
        for t in (-4.0, -0.3, 0.0, 1.0, 12.0):
            assert t_cdf(t, df) == pytest.approx(scipy_stats.t.cdf(t, df), abs=1e-12)
    assert t_quantile(0.975, 2) == pytest.approx(4.302652729911275)


def test_interval_and_welch_match_scipy():
    a, b = [61.0, 48.5, 77.2], [55.0, 70.1, 59.3, 66.0]
    s = spread(a)
    low, high = scipy_stats.t.interval(0.95, 2, loc=sum(a) / 3, scale=scipy_stats.sem(a))
    assert (s.n, s.low, s.high) == (3, pytest.approx(low), pytest.approx(high))
    assert s.sd == pytest.approx(scipy_stats.tstd(a))
    assert spread([5.0]).low is None  # one value: no interval
    d = welch(a, b)
    ref = scipy_stats.ttest_ind(a, b, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert (d.low, d.high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert (d.p, d.df) == (pytest.approx(ref.pvalue), pytest.approx(ref.df))
    assert d.noise  # 0 inside: not distinguishable
    far = welch([300.0, 310.0, 295.0], a)
    assert not far.noise and far.low > 0


def test_holm_adjusts_step_down_and_stays_monotone():
    # Holm (1979) by hand: sorted 0.01, 0.02, 0.04 × 3, 2, 1 = 0.03, 0.04, 0.04 (kept monotone).
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def runs(fids: dict[str, list[float]], status: dict | None = None) -> list[dict]:
    """Per-run rows as gan_lab.runs.sweep.summarize_run makes them: seed × model.lr_g."""
    rows = []
    for lr, values in fids.items():
        for seed, fid in enumerate(values):
            ok = (status or {}).get((lr, seed), "ok")
            raw = {"g_loss": 1.0 + seed / 10, "val/fid": fid, "val/fid_floor": 10.0}
            raw["val/fid_over_floor"] = fid / 10
            rows.append({"seed": str(seed), "model.lr_g": lr, "status": ok, RAW: raw})
    return rows


SWEEP = {"2e-4": [61.0, 48.5, 77.2], "2.2e-4": [55.0, 70.1, 59.3], "2e-6": [300.0, 310.0, 295.0]}


def test_settings_are_pooled_over_seeds_ranked_and_marked_both_ways():
    table = pooled(runs(SWEEP), ["seed", "model.lr_g"], "auto", "val/fid", higher_is_better)
    assert table.metric == "val/fid"
    by = {s.values["model.lr_g"]: s for s in table.settings}
    assert [s.values["model.lr_g"] for s in table.settings] == ["2.2e-4", "2e-4", "2e-6"]
    assert [s.rank for s in table.settings] == [1, 2, 3]
    assert by["2.2e-4"].verdict == "best"
    assert by["2e-4"].verdict == NOT_DISTINGUISHABLE  # a lead inside the seeds' noise
    assert by["2e-6"].verdict == WORSE
    best = SWEEP["2.2e-4"]
    ref = scipy_stats.ttest_ind(SWEEP["2e-6"], best, equal_var=False)
    assert by["2e-6"].versus.p == pytest.approx(ref.pvalue)
    p_near = scipy_stats.ttest_ind(SWEEP["2e-4"], best, equal_var=False).pvalue
    assert by["2e-6"].p_holm == pytest.approx(min(1, 2 * min(ref.pvalue, p_near)))
    assert by["2e-4"].spreads["val/fid_over_floor"].mean == pytest.approx(sum(SWEEP["2e-4"]) / 30)
    assert by["2e-4"].seeds == ["0", "1", "2"]
    assert "2 comparisons at 5 % each expect 10 % false alarms" in table.caveat


def test_one_seed_has_no_interval_and_unfinished_runs_are_left_out():
    rows = runs({"2e-4": [61.0, 48.5], "2e-6": [300.0, 1.0]}, {("2e-6", 1): "failed: nan"})
    table = pooled(rows, ["seed", "model.lr_g"], "auto", "val/fid", higher_is_better)
    worse = table.settings[1]
    assert (worse.n, worse.left_out, worse.verdict) == (1, 1, ONE_SEED)  # the failed 1.0 is out
    assert worse.spreads["val/fid"].low is None
    assert ONE_SEED in table.caveat and "add -m seed=0,1,2" in table.caveat
    rows[0][RAW].pop("val/fid")  # a finished run without the score: one value left there
    short = pooled(rows, ["seed", "model.lr_g"], "auto", "val/fid", higher_is_better)
    assert [s.verdict for s in short.settings] == [f"best ({ONE_SEED})", ONE_SEED]
    cells = dict(zip(table.header(), table.text_rows()[1], strict=True))
    assert cells["n"] == "1 (+1 not ok)" and cells["val/fid"] == "300" and cells["vs best"] == ""


def test_the_metric_is_chosen_explicitly_and_said(tmp_path):
    rows = runs(SWEEP)
    for row in rows:  # the extractor's suffix: val/fid_digits, as a classifier's runs log it
        row[RAW] = {k.replace("val/fid", "val/fid_digits"): v for k, v in row[RAW].items()}
    table = pooled(rows, ["seed", "model.lr_g"], "auto", "val/fid", higher_is_better)
    assert table.metric == "val/fid_digits" and "metrics.best" in table.choice
    by_loss = pooled(rows, ["seed", "model.lr_g"], "g_loss", "val/fid", higher_is_better)
    assert by_loss.metric == "g_loss" and "as asked (sweep.metric" in by_loss.choice
    assert all(s.verdict in ("best", NOT_DISTINGUISHABLE) for s in by_loss.settings)  # same loss
    for row in rows:  # a score that grows with quality ranks highest first
        row[RAW]["val/coverage_digits"] = 1 / row[RAW]["val/fid_digits"]
    by_coverage = pooled(rows, ["seed", "model.lr_g"], "val/coverage_digits", "", higher_is_better)
    assert [s.values["model.lr_g"] for s in by_coverage.settings][-1] == "2e-6"
    none = pooled(runs(SWEEP), ["seed", "model.lr_g"], "val/kid", "val/fid", higher_is_better)
    assert none.metric is None and all(s.rank is None for s in none.settings)
    assert "val/kid was asked for" in none.choice and "no run has this column" in none.choice
    # The tables: settings.csv a row per setting, summary.md the settings above every run.
    for row in rows:
        row.update({"run": "0", "folder": "0_x", "samples": "", "epochs": "1"})
    write_tables(rows, ["seed", "model.lr_g"], tmp_path, table)
    with (tmp_path / "settings.csv").open() as f:
        found = list(csv.DictReader(f))
    assert [(r["model.lr_g"], r["n"], r["verdict"]) for r in found] == [
        ("2.2e-4", "3", "best"),
        ("2e-4", "3", NOT_DISTINGUISHABLE),
        ("2e-6", "3", WORSE),
    ]
    s = spread(SWEEP["2e-6"])
    assert float(found[2]["low(val/fid_digits)"]) == pytest.approx(s.low, rel=1e-5)
    assert float(found[2]["diff_low"]) > 0 and found[0]["diff_low"] == ""
    text = (tmp_path / "summary.md").read_text()
    assert text.index("## Settings, seeds pooled") < text.index("## Every run")
    assert (
        "| 2 | 2e-4 | 3 | 62.23 [26.49, 97.98] | +0.7667 [-28.87, +30.4] |" in text
        and "| not distinguishable |" in text
    )


def test_sweep_seeds_adds_the_axis_and_is_refused_where_it_cannot_mean_that():
    assert seed_axis("train", ["-m", "sweep.seeds=3", "x=1,2"]) == [
        "-m",
        "sweep.seeds=3",
        "seed=0,1,2",
        "x=1,2",
    ]
    once = seed_axis("train", ["-m", "sweep.seeds=2"])
    assert seed_axis("train", once) == once  # train.py's check applies it again: no change
    assert seed_axis("train", ["sweep.seeds=0"]) == ["sweep.seeds=0"]  # 0 = off, -m or not
    for args, said in (
        (["sweep.seeds=3"], "only a multirun runs: add -m"),
        (["-m", "sweep.seeds=3", "seed=0,1"], "both set the seeds"),
        (["-m", "sweep.seeds=3", "seed=7"], "both set the seeds"),
        (["-m", "sweep.seeds=three"], "is not a number of seeds"),
    ):
        with pytest.raises(UserError, match=said):
            seed_axis("train", args)
    with pytest.raises(UserError, match="tune.confirm_seeds"):
        seed_axis("tune", ["sweep.seeds=3"])


def test_sweep_seeds_without_multirun_is_one_paragraph(gan_lab_cli):
    code, _, err = gan_lab_cli("train", "sweep.seeds=3", *TINY)
    assert code == 2 and "add -m" in err and "Traceback" not in err


@pytest.mark.slow  # 9 runs of 96 steps and an extractor trained for them (~10 min on 2 busy cores)
def test_a_seed_sweep_tells_noise_from_a_difference(tmp_path):
    """-m sweep.seeds=3 model.lr_g=2e-4,2.2e-4,2e-6 on the built-in shapes, FID in a small
    classifier's feature space: 2e-4 against 2.2e-4 is inside the noise, 2e-6 is worse."""
    extractor = tmp_path / "shapes.pt"
    code = gan_lab_in_process("extractor", "data.num_images=512", "epochs=4", f"out={extractor}")
    assert code == 0
    out = tmp_path / "sweep"
    code = gan_lab_in_process(
        "train",
        "-m",
        "sweep.seeds=3",
        "model.lr_g=2e-4,2.2e-4,2e-6",
        *TINY,
        "data.num_images=512",
        "trainer.max_epochs=6",
        "metrics.every_n_epochs=6",
        "metrics.n_samples=256",
        f"metrics.extractor={extractor}",
        "logger=none",
        "callbacks.samples.gif=false",
        "callbacks.report=null",
        f"hydra.sweep.dir={out}",
    )
    assert code == 0
    with (out / "settings.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["n"] for r in rows] == ["3", "3", "3"] and rows[0]["metric"] == "val/fid_shapes"
    assert all(math.isfinite(float(r["mean(val/fid_shapes)"])) for r in rows)
    verdicts = {r["model.lr_g"]: r["verdict"] for r in rows}
    print(Path(out / "summary.md").read_text().split("## Every run")[0])
    assert verdicts["2e-06"] == WORSE
    assert sorted([verdicts["0.0002"], verdicts["0.00022"]]) == ["best", NOT_DISTINGUISHABLE]
    assert "Settings, seeds pooled" in (out / "report.html").read_text()
