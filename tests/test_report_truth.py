"""report.html tells the truth (issue 35): every FD/KID beside the real-vs-real floor, precision /
recall / density / coverage, the memorisation score with its warning and the closest pairs, and
every class with its data and sample share — read from a run folder written by hand with the
columns and files of the metrics callback; a folder from before them renders as it did."""

import base64
import csv
import json
from pathlib import Path

import pytest
from browser import Chromium, find_browser
from PIL import Image
from test_report import Page

from gan_lab.metrics.scores import write_tables
from gan_lab.report import write_run_report
from gan_lab.runs import layout

TRAIN = {"train/d_loss": 0.6, "train/g_loss": 1.2, "train/d_real": 0.7, "train/d_fake": 0.3}
# Two scored epochs in the digits classifier's feature space (suffix _digits), as the metrics
# callback logs them: each score, KID's std, and the floors.
SCORED = {
    2: {
        "val/fid_digits": 9.0,
        "val/fid_digits_floor": 1.2,
        "val/kid_digits": 0.05,
        "val/kid_digits_std": 0.01,
        "val/kid_digits_floor": -0.0004,  # KID is unbiased: its floor scatters around 0
        "val/is_digits": 3.1,
        "val/precision_digits": 0.81,
        "val/recall_digits": 0.22,
        "val/density_digits": 1.37,
        "val/coverage_digits": 0.31,
        "val/memorisation_digits": 0.4,
        "val/memorisation_digits_floor": 0.35,
    },
    4: {
        "val/fid_digits": 2.4,
        "val/fid_digits_floor": 1.26,
        "val/kid_digits": 0.004,
        "val/kid_digits_std": 0.002,
        "val/kid_digits_floor": 0.001,
        "val/is_digits": 4.2,
        "val/precision_digits": 0.77,
        "val/recall_digits": 0.58,
        "val/density_digits": 0.93,
        "val/coverage_digits": 0.64,
        "val/memorisation_digits": 0.9,
        "val/memorisation_digits_floor": 0.35,
    },
}
CLASSES = [  # (class, data share, sample share at epoch 4); "seven" is rare and under-drawn
    ("zero", 0.45, 0.5),
    ("one", 0.45, 0.48),
    ("seven", 0.10, 0.02),
]
HOSTILE_NAME = "<img src=x onerror=alert(1)>.png"  # a training file's name is the folder's data


def write_csv(path: Path, rows: list[dict]) -> None:
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def plain_run(folder: Path, scores: bool = True) -> Path:
    """A run folder of 4 epochs as a run from before issue 35 left it: losses every epoch and, if
    ``scores``, FID/KID at epochs 2 and 4 without floors."""
    (folder / "checkpoints").mkdir(parents=True)
    rows = []
    for epoch in range(1, 5):
        row = {"epoch": epoch, "step": 8 * epoch, **TRAIN, "epoch_seconds": 1.0}
        if scores:
            # metrics.csv repeats the last scores between evaluations (report/run/best.py)
            scored = SCORED[2 if epoch < 4 else 4]
            row |= {"val/fid_digits": scored["val/fid_digits"] if epoch >= 2 else ""}
            row |= {"val/kid_digits": scored["val/kid_digits"] if epoch >= 2 else ""}
        rows.append(row)
    write_csv(folder / layout.METRICS_CSV, rows)
    for epoch in (2, 4):
        layout.checkpoint_path(folder, epoch).write_bytes(b"")
    config = {"metrics": {"best": "val/fid"}, "model": {"conditional": False}}
    (folder / layout.RUN_INFO).write_text(json.dumps({"format": 1, "config": config}))
    return folder


def truthful_run(folder: Path) -> Path:
    """A run folder with everything the metrics callback of issue 35 writes."""
    plain_run(folder, scores=False)
    rows = []
    for epoch in range(1, 5):
        row = {"epoch": epoch, "step": 8 * epoch, **TRAIN, "epoch_seconds": 1.0}
        row |= {k: "" for k in SCORED[2]} if epoch < 2 else SCORED[2 if epoch < 4 else 4]
        rows.append(row)
    write_csv(folder / layout.METRICS_CSV, rows)
    write_csv(
        folder / layout.WARNINGS_CSV,
        [{"epoch": 4, "kind": "memorisation", "message": "samples sit on training images"}],
    )
    write_csv(
        folder / layout.CLASSES_CSV,
        [
            {"epoch": e, "class": c, "data_share": d, "sample_share": s, "accuracy": "", "fd": fd}
            for e in (2, 4)
            for (c, d, s), fd in zip(CLASSES, [3.5, 4.25, ""], strict=True)
        ],
    )
    layout.memorisation_png(folder, 4).parent.mkdir()
    Image.new("RGB", (68, 34), (200, 30, 30)).save(layout.memorisation_png(folder, 4))
    pairs = [
        {"rank": 1, "sample": 17, "train_index": 5, "train_name": HOSTILE_NAME, "distance": 0.0123,
         "ssim": 0.991},
        {"rank": 2, "sample": 3, "train_index": 9, "train_name": "seven_004.png", "distance": 0.5,
         "ssim": 0.62},
    ]  # fmt: skip
    write_csv(layout.memorisation_csv(folder, 4), pairs)
    return folder


@pytest.fixture(scope="module")
def truthful(tmp_path_factory) -> tuple[Path, Page]:
    run = truthful_run(tmp_path_factory.mktemp("truth") / "run")
    return run, Page(write_run_report(run))


def test_every_fd_and_kid_stands_beside_its_floor(truthful):
    _, page = truthful
    best = "FD (digits features) 2.4 (1.9× the real-vs-real floor 1.26)"
    assert f"At that epoch: {best}" in page.text  # the best epoch (4) in the scores section
    assert "scores at the best epoch (4)" in page.text and best in page.text  # and the overview
    assert "KID (digits features) 0.004 (4× the real-vs-real floor 0.001)" in page.text
    header, *rows = page.tables["scores"]
    assert header[:5] == [
        "epoch",
        "val/fid_digits",
        "val/fid_digits_floor",
        "val/fid_digits ÷ floor",
        "val/is_digits",
    ]
    assert [r[:4] for r in rows] == [["2", "9", "1.2", "7.5×"], ["4", "2.4", "1.26", "1.9×"]]
    kid = header.index("val/kid_digits ÷ floor")
    assert [r[kid] for r in rows] == ["", "4×"]  # epoch 2's floor is below 0: no ratio
    # precision/recall/... and memorisation are in their own sections, not in this table
    assert not [h for h in header if "precision" in h or "memorisation" in h]
    assert "dashed grey: the real-vs-real floor" in page.text


def test_precision_recall_density_coverage_per_scored_epoch(truthful):
    _, page = truthful
    header, *rows = page.tables["prdc"]
    assert header == [
        "epoch",
        "val/precision_digits",
        "val/recall_digits",
        "val/density_digits",
        "val/coverage_digits",
    ]
    assert rows == [["2", "0.81", "0.22", "1.37", "0.31"], ["4", "0.77", "0.58", "0.93", "0.64"]]
    assert "high precision and density but low recall and coverage" in page.text


def test_memorisation_score_warning_and_closest_pairs(truthful):
    run, page = truthful
    # the warning above everything and in its section, the score beside its floor
    assert "Memorisation warning at epoch 4: samples sit on training images" in page.text
    assert page.rows("memorisation-warnings") == [["4", "samples sit on training images"]]
    assert "val/memorisation_digits 0.9 (2.57× the real-vs-real floor 0.35) at epoch 4" in (
        page.text
    )
    assert page.rows("memorisation") == [
        ["2", "0.4", "0.35", "1.14×"],
        ["4", "0.9", "0.35", "2.57×"],
    ]
    # the newest epoch's pairs picture, embedded from the folder, and its closest rows as text
    png = layout.memorisation_png(run, 4).read_bytes()
    assert f"data:image/png;base64,{base64.b64encode(png).decode()}" in page.images
    assert "memorisation/epoch_0004.csv" in page.links
    assert "classes.csv" in page.links  # and the files section lists the new files
    assert page.rows("pairs") == [
        ["1", "17", HOSTILE_NAME, "0.0123", "0.991"],
        ["2", "3", "seven_004.png", "0.5", "0.62"],
    ]
    html = (run / "report.html").read_text()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;.png" in html


def test_every_class_with_its_shares_rarest_first(truthful):
    _, page = truthful
    header, *rows = page.tables["class-scores"]
    assert header == [
        "class",
        "data share",
        "sample share",
        "sample ÷ data share",
        "FD of the class",
        "note",
    ]  # unconditional: no accuracy
    assert rows[0] == ["seven", "0.1", "0.02", "0.20×", "", "rare, under-drawn"]
    assert [r[0] for r in rows] == ["seven", "one", "zero"]
    assert "grey: the class's share of the training data" in page.text  # the bars' caption


def test_a_folder_from_before_the_floors_renders_as_before(tmp_path):
    run = plain_run(tmp_path / "old")
    page = Page(write_run_report(run))
    assert "Best epoch: 4 (by val/fid_digits" in page.text
    header, *rows = page.tables["scores"]
    assert header == ["epoch", "val/fid_digits", "val/kid_digits"]
    assert rows == [["2", "9", "0.05"], ["4", "2.4", "0.004"]]
    assert "floor" not in page.text.lower()
    assert "No precision, recall, density or coverage" in page.text
    assert "No memorisation score" in page.text
    assert "Not a conditional run (model.conditional=false): the grids mix the classes" in (
        page.text
    )
    assert "Memorisation warning" not in page.text


def test_scores_csv_of_gan_lab_score_decides_and_marks_memorising_epochs(tmp_path):
    run = truthful_run(tmp_path / "scored")
    rows = [
        {"checkpoint": f"checkpoints/epoch_{e:04d}.ckpt", "epoch": e, **SCORED[e]}
        | {"memorising": "yes" if e == 4 else "", "best": "yes" if e == 2 else ""}
        for e in (2, 4)
    ]  # gan-lab score ranked by another rule here: its table decides, as best@ does
    write_tables(run, rows, "val/fid_digits", {"n_samples": 64, "extractor": "digits.pt"})
    page = Page(write_run_report(run))
    assert "Best epoch: 2 " in page.text
    assert "Passed over: epoch 4 scored better by val/fid_digits but is flagged as memorising" in (
        page.text
    )
    assert "At that epoch: FD (digits features) 9 (7.5× the real-vs-real floor 1.2)" in page.text
    assert "(the real-vs-real floor is -0.0004: at or below 0, no ratio)" in page.text
    assert page.tables["memorisation"][0][-1] == "memorising"
    assert [r[-1] for r in page.rows("memorisation")] == ["", "yes"]
    assert "From scores.csv." in page.text


def test_a_conditional_runs_classes_show_accuracy_and_no_bars(tmp_path):
    run = truthful_run(tmp_path / "conditional")
    info = json.loads((run / layout.RUN_INFO).read_text())
    info["config"]["model"]["conditional"] = True
    (run / layout.RUN_INFO).write_text(json.dumps(info))
    write_csv(
        run / layout.CLASSES_CSV,
        [
            {
                "epoch": 4,
                "class": c,
                "data_share": d,
                "sample_share": 0.1 if c == "zero" else 0.45,
                "accuracy": a,
                "fd": "",
            }
            for (c, d, _), a in zip(CLASSES, [0.99, 0.97, 0.41], strict=True)
        ],
    )
    page = Page(write_run_report(run))
    header, *rows = page.tables["class-scores"]
    assert header == ["class", "data share", "sample share", "accuracy", "FD of the class", "note"]
    assert [(r[0], r[3]) for r in rows] == [("seven", "0.41"), ("one", "0.97"), ("zero", "0.99")]
    assert "grey: the class's share of the training data" not in page.text  # asked, not counted
    # asked for equally often: a share unlike the data's is no sign of a dropped class
    assert [r[-1] for r in rows] == ["rare", "", ""]


@pytest.mark.skipif(find_browser() is None, reason="no Chromium: apt-get install chromium")
def test_the_truthful_page_opens_in_a_real_browser(truthful):
    run, _ = truthful
    with Chromium() as browser:
        found = browser.open(run / "report.html")
    assert "coverage" in found["sections"] and "memorisation" in found["sections"]
    broken = [i["src"] for i in found["images"] if not i["complete"] or i["width"] == 0]
    assert found["images"] and not broken
    assert found["errors"] == []


@pytest.mark.parametrize(("line", "best"), [(None, 4), (0.5, 2), (0.1, 4)])
def test_the_training_s_own_best_passes_over_memorising_epochs_as_gan_lab_score_does(
    tmp_path, line, best
):
    """metrics.csv's memorisation score above metrics.memorisation_line flags an epoch, as
    scores.csv's ``memorising`` column does: the best is the best unflagged epoch, and a better
    flagged one is named; when every epoch is flagged, the best of them, said."""
    run = truthful_run(tmp_path / "run")
    info = json.loads((run / layout.RUN_INFO).read_text())
    info["config"]["metrics"]["memorisation_line"] = line
    (run / layout.RUN_INFO).write_text(json.dumps(info))
    text = Page(write_run_report(run)).text
    assert f"Best epoch: {best} (by val/fid_digits" in text
    assert ("Passed over: epoch 4" in text) == (line == 0.5)
    assert ("Every scored epoch is flagged as memorising" in text) == (line == 0.1)
