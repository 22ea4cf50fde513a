"""report.html (design §5): a run's, a sweep's and an inversion's page agree with the files they
show, are written by training, sweeps and invert.py by themselves, take seconds for a 300-epoch
run, and open in a real browser with every picture loaded and no error."""

import csv
import importlib.util
import json
import re
import shutil
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from browser import Chromium, find_browser
from conftest import ROOT, TINY, make_cfg
from lightning.pytorch.callbacks import Callback
from omegaconf import OmegaConf
from PIL import Image

from gan_lab.cli.report import main as report_main
from gan_lab.config import compose
from gan_lab.config.validate import check_config
from gan_lab.errors import UserError
from gan_lab.latent.run import run as invert_run
from gan_lab.metrics.best import best_row
from gan_lab.metrics.scores import write_tables
from gan_lab.report import write_inversion_report, write_run_report, write_sweep_report
from gan_lab.runs.files import read_rows
from gan_lab.runs.sweep import FINAL
from gan_lab.training.checkpoint import load_gan, resolve_checkpoint
from gan_lab.training.train import train

RUN_SECTIONS = ["run", "networks", "data", "samples", "training", "scores"]
RUN_SECTIONS += ["coverage", "memorisation", "classes", "files"]
SWEEP_SECTIONS = ["sweep", "settings", "table", "grids", "curves", "files"]
INVERSION_SECTIONS = [
    "inversion",
    "results",
    "loss",
    "edits",
    "interpolation",
    "jitter",
    "comparison",
    "files",
]


class Page(HTMLParser):
    """What a reader of report.html sees: sections, tables (by class) as cell texts, pictures,
    links, slider frames."""

    def __init__(self, path: Path):
        super().__init__()
        self.sections, self.images, self.links, self.sliders = [], [], [], []
        self.sortable: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._table, self._row, self._cell = None, None, None
        self.text = ""
        self.feed(path.read_text())

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a["id"])
        elif tag == "img":
            self.images.append(a["src"])
        elif tag == "a":
            self.links.append(a["href"])
        elif tag == "div" and "slider" in a.get("class", ""):
            self.sliders.append(json.loads(a["data-frames"]))
        elif tag == "table":
            cls = a.get("class", "").replace("sortable", "").strip()
            if "sortable" in a.get("class", ""):
                self.sortable.append(cls)
            self._table = self.tables.setdefault(cls, [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "table":
            self._table = self._row = None

    def handle_data(self, data):
        self.text += data
        if self._cell is not None:
            self._cell += data

    def rows(self, cls: str) -> list[list[str]]:
        return self.tables.get(cls, [])[1:]  # without the header


def relative_targets(folder: Path, page: Page) -> list[Path]:
    from urllib.parse import unquote

    refs = [r for r in page.links + page.images if not r.startswith(("data:", "#"))]
    refs += [src for s in page.sliders for src in s["src"]]
    return [folder / unquote(r) for r in refs]


def last_value(path: Path, key: str) -> float:
    return float(read_rows(path)[-1][key])


# ---- a run -------------------------------------------------------------------------------
def test_training_writes_a_report_that_matches_the_run_files(trained_run):
    report = trained_run / "report.html"
    page = Page(report)
    assert page.sections == RUN_SECTIONS
    # The final epoch's table is metrics.csv's last row.
    final = dict(page.rows("final"))
    last = read_rows(trained_run / "metrics.csv")[-1]
    assert final["epoch"] == last["epoch"] == "2"
    for name, key in FINAL.items():
        shown = {"d_real": "D(x)", "d_fake": "D(G(z))"}.get(name, name)
        assert float(final[shown]) == pytest.approx(float(last[key]), rel=1e-3)
    d, g = float(last["train/d_loss"]), float(last["train/g_loss"])
    # Shown with 3 decimals: equal to within half a unit of the last one.
    assert float(final["balance (g_loss − d_loss)"]) == pytest.approx(g - d, abs=5e-4)
    # Every grid is in the slider: the untrained one and one per checkpoint epoch.
    grids = sorted((trained_run / "samples").glob("epoch_*.png"))
    ckpts = sorted((trained_run / "checkpoints").glob("epoch_*.ckpt"))
    assert len(page.sliders) == 1 and len(page.sliders[0]["src"]) == len(grids) == len(ckpts) + 1
    assert page.sliders[0]["label"] == ["epoch 0", "epoch 1", "epoch 2"]
    # Parameter counts are those of the networks in the checkpoint.
    gan = load_gan(ckpts[-1])
    params = sum(p.numel() for p in gan.generator.parameters())
    assert page.rows("networks")[0][:3] == ["generator", "Generator", f"{params:,}"]
    info = json.loads((trained_run / "run.json").read_text())
    assert info["networks"]["generator"]["parameters"] == params
    assert info["data"]["images"] == 128 and info["sessions"][-1]["status"] == "finished"
    assert (trained_run / "preview" / "batch.png").exists()
    # Every relative link and picture points at a file of the run folder.
    targets = relative_targets(trained_run, page)
    assert any(t.suffix == ".ckpt" for t in targets) and any(t.name == "steps.csv" for t in targets)
    assert all(t.exists() for t in targets), [t for t in targets if not t.exists()]


def test_best_epoch_is_the_one_gan_lab_score_and_best_at_choose(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    # scores.csv as gan-lab score writes it (its own table writer and best rule).
    rows = [
        {"checkpoint": "checkpoints/epoch_0001.ckpt", "epoch": 1, "val/fid": 80.0, "val/kid": 0.05},
        {"checkpoint": "checkpoints/epoch_0002.ckpt", "epoch": 2, "val/fid": 95.0, "val/kid": 0.04},
    ]
    best = best_row(rows, "val/fid")
    for row in rows:
        row["best"] = "yes" if row is best else ""
    write_tables(run, rows, "val/fid", {"n_samples": 64, "extractor": "test"})
    page = Page(write_run_report(run))
    chosen = resolve_checkpoint(f"best@{run}")
    assert chosen.name == "epoch_0001.ckpt"
    assert re.search(r"Best epoch: 1 ", page.text)
    assert "checkpoints/epoch_0001.ckpt" in page.links
    marked = [r for r in page.rows("scores") if r[0] == "1"]
    assert marked and marked[0][1] == "80"
    # Without scores.csv, the training's own evaluations decide, by the same rule.
    (run / "scores.csv").unlink()
    metrics = read_rows(run / "metrics.csv")
    for row, kid in zip(metrics, [0.3, 0.2], strict=True):
        row["val/kid_shapes"] = kid  # a user-trained extractor's name rides on the metric
    with (run / "metrics.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(metrics[0]))
        writer.writeheader()
        writer.writerows(metrics)
    info = json.loads((run / "run.json").read_text())
    assert info["config"]["metrics"]["best"] == "val/fid"  # not computed here ...
    page = Page(write_run_report(run))
    assert "No best epoch" in page.text  # ... so no epoch is called best
    info["config"]["metrics"]["best"] = "val/kid"  # as if trained with metrics.best=val/kid
    (run / "run.json").write_text(json.dumps(info))
    page = Page(write_run_report(run))
    expected = int(best_row(read_rows(run / "metrics.csv"), "val/kid_shapes")["epoch"])
    assert expected == 2 and re.search(rf"Best epoch: {expected} \(by val/kid_shapes", page.text)


def test_the_audit_of_a_folder_set_shows_the_skipped_files(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    folder = tmp_path / "crawl"
    folder.mkdir()
    Image.new("RGB", (20, 12), "red").save(folder / "thumb.jpg")
    (folder / "page.jpg").write_text("<html>not an image</html>")
    rows = [  # as data.audit.write_report writes them
        ["path", "problem", "detail", "action"],
        [folder / "thumb.jpg", "too_small", "20×12 < 32 px", "skipped"],
        [folder / "page.jpg", "unreadable", "cannot identify image file", "skipped"],
        [folder / "cmyk.jpg", "unusual_mode", "mode CMYK (converted)", "kept"],
    ]
    with (run / "data_audit.csv").open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    # Without the live run's data folder, a path the CSV names outside the run is not opened.
    assert "outside the run" in Page(write_run_report(run)).rows("skipped")[0][0]
    page = Page(write_run_report(run, data_root=folder))  # the live run's report
    assert "outside the run" not in page.rows("skipped")[0][0]
    counts = {(r[0], r[1]): r[2] for r in page.rows("audit")}
    assert counts == {
        ("too_small", "skipped"): "1",
        ("unreadable", "skipped"): "1",
        ("unusual_mode", "kept"): "1",
    }
    skipped = page.rows("skipped")
    assert [r[1:3] for r in skipped] == [["thumb.jpg", "too_small"], ["page.jpg", "unreadable"]]
    assert "cannot be shown" in skipped[1][0]  # the web page saved as .jpg: no thumbnail
    assert "data_audit.csv" in page.links


class StopAt(Callback):
    """Raises at the end of an epoch: a crash the report must survive and tell."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.current_epoch + 1 == self.epoch:
            raise RuntimeError("the power went out")


def test_a_crashed_conditional_run_reports_its_status_warnings_and_class_rows(tmp_path):
    out = tmp_path / "run"
    overrides = [
        *TINY,
        "trainer.max_epochs=3",
        "data.num_images=64",  # 2 steps an epoch
        "model.conditional=true",
        "logger=none",
        "callbacks.samples.gif=false",
        "callbacks.balance.collapse_ratio=100",  # every epoch "collapses": a warning each
        "callbacks.balance.collapse_after=0",
        "data.augment.flip=true",
    ]
    with pytest.raises(RuntimeError, match="power"):
        train(make_cfg(out, overrides), callbacks=[StopAt(2)])
    page = Page(out / "report.html")
    assert page.sections == RUN_SECTIONS
    assert "stopped: RuntimeError: the power went out" in page.text
    # The warnings table is warnings.csv, and each warning is on the plot's time axis.
    recorded = read_rows(out / "warnings.csv")
    assert [r["epoch"] for r in recorded] == ["1", "2"] and recorded[0]["kind"] == "collapse"
    assert [r[:2] for r in page.rows("warnings")] == [["1", "collapse"], ["2", "collapse"]]
    # One row per class: its name, its training images, its row of the first and last grid.
    info = json.loads((out / "run.json").read_text())
    classes = ["circle", "square", "triangle", "ring", "cross"]
    assert info["grid"]["rows"] == classes
    rows = page.rows("classes")
    assert [r[0] for r in rows] == classes
    assert [int(r[1]) for r in rows] == [info["data"]["per_class"][c] for c in classes]
    assert sum(int(r[1]) for r in rows) == 64
    assert (out / "preview" / "augment.png").exists()  # flips on: the augmentation check


# ---- hostile names ------------------------------------------------------------------------
# What a folder's files may say — class folders, file names, config values, a crash's message —
# written where the report shows them. Each must reach the reader as text: escaped in the HTML,
# never a tag of its own (report.page's templates escape by default; nothing builds markup).
HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    "a&b \"quoted\" 'single'",
]


def assert_shown_as_text(path: Path, expected: list[str]) -> None:
    html = path.read_text()
    page = Page(path)
    for text in expected:
        assert text in page.text, text  # the reader sees it ...
    assert "<script>alert" not in html and "<img src=x" not in html
    tags = Tags(html)
    assert tags.count["script"] == 1  # ... and the page's own script is its only one
    assert "x" not in tags.img_srcs and not tags.handlers  # no <img src=x onerror=...>


class Tags(HTMLParser):
    """The tags a browser would build: how many of each, the pictures' sources, any on* handler."""

    def __init__(self, html: str):
        super().__init__()
        self.count: dict[str, int] = {}
        self.img_srcs: list[str] = []
        self.handlers: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.count[tag] = self.count.get(tag, 0) + 1
        self.img_srcs += [v for k, v in attrs if tag == "img" and k == "src"]
        self.handlers += [k for k, _ in attrs if k.startswith("on")]


def test_hostile_names_in_a_run_folder_are_shown_as_text(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    script, img, quotes = HOSTILE
    info = json.loads((run / "run.json").read_text())
    info["grid"] = {"rows": HOSTILE}  # class folders' names, in the grid's rows
    info["data"]["per_class"] = dict.fromkeys(HOSTILE, 10)
    info["config"]["seed"] = script
    info["sessions"][-1]["status"] = f"stopped: RuntimeError: {img}"
    (run / "run.json").write_text(json.dumps(info))
    (run / ".hydra").mkdir()
    (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"+tag={quotes}"]))
    crawl = tmp_path / "crawl"
    crawl.mkdir()
    shown = crawl / "<script>alert(3)<script>.png"  # a file name cannot hold a '/'
    Image.new("RGB", (8, 8)).save(shown)
    with (run / "data_audit.csv").open("w", newline="") as f:
        csv.writer(f).writerows(
            [["path", "problem", "detail", "action"], [shown, "too_small", script, "skipped"]]
        )
    with (run / "warnings.csv").open("a", newline="") as f:
        csv.writer(f).writerow([1, "collapse", img])
    (run / f"{quotes}.log").write_text("a log")
    path = write_run_report(run)
    assert_shown_as_text(path, [*HOSTILE, shown.name, f"+tag={quotes}"])
    assert [r[0] for r in Page(path).rows("classes")] == HOSTILE


def test_hostile_names_in_a_sweep_and_an_inversion_are_shown_as_text(trained_run, tmp_path):
    script, img, quotes = HOSTILE
    sweep = tmp_path / "sweep"
    for i, value in enumerate([script, quotes]):
        run = sweep / f"{i}_tag"
        shutil.copytree(trained_run, run)
        (run / ".hydra").mkdir()
        (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"+tag={value}", img]))
    assert_shown_as_text(write_sweep_report(sweep), [script, quotes, img])
    inversion = tmp_path / "inversion"
    inversion.mkdir()
    record = {"mode": script, "target": [img], "class": quotes, "steps": script}
    (inversion / "inversion.json").write_text(json.dumps(record))
    assert_shown_as_text(write_inversion_report(inversion), HOSTILE)


def test_the_templates_ship_with_the_package():
    """pyproject's package-data names every file of report/templates (an installed gan-lab
    writes its reports from them)."""
    tomllib = pytest.importorskip("tomllib")
    package = ROOT / "src" / "gan_lab"
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = data["tool"]["setuptools"]["package-data"]["gan_lab"]
    shipped = {p for pattern in patterns for p in package.glob(pattern) if p.is_file()}
    templates = {p for p in (package / "report" / "templates").rglob("*") if p.is_file()}
    assert len(templates) > 10 and templates <= shipped, templates - shipped


# ---- a sweep -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sweep_dir(trained_run, tmp_path_factory) -> Path:
    """Three copies of the trained run as the jobs of a noise sweep, one of them cut short."""
    sweep = tmp_path_factory.mktemp("multirun") / "sweep"
    for i, noise in enumerate(["normal", "uniform", "gamma"]):
        run = sweep / f"{i}_noise={noise}"
        shutil.copytree(trained_run, run)
        (run / ".hydra").mkdir()
        (run / ".hydra" / "overrides.yaml").write_text(f"- noise={noise}\n- debug=tiny\n")
        planned = 5 if noise == "gamma" else 2
        (run / ".hydra" / "config.yaml").write_text(
            yaml.safe_dump({"trainer": {"max_epochs": planned}})
        )
        rows = read_rows(run / "metrics.csv")
        for row in rows:  # each run its own losses, so that sorting means something
            row["train/d_loss"] = float(row["train/d_loss"]) * (i + 1)
        with (run / "metrics.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        write_run_report(run)
    write_sweep_report(sweep)
    return sweep


def test_sweep_report_compares_the_runs_as_their_files_say(sweep_dir):
    page = Page(sweep_dir / "report.html")
    assert page.sections == SWEEP_SECTIONS
    header = page.tables["comparison"][0]
    rows = [dict(zip(header, r, strict=True)) for r in page.rows("comparison")]
    assert [r["noise"] for r in rows] == ["normal", "uniform", "gamma"]
    assert "debug" not in header  # the same in every run: not a column
    for row, run in zip(rows, sorted(p for p in sweep_dir.iterdir() if p.is_dir()), strict=True):
        for column in ("d_loss", "g_loss", "d_real", "d_fake"):
            assert float(row[column]) == round(last_value(run / "metrics.csv", FINAL[column]), 4)
        d = round(last_value(run / "metrics.csv", "train/d_loss"), 4)
        g = round(last_value(run / "metrics.csv", "train/g_loss"), 4)
        assert float(row["balance"]) == pytest.approx(g - d, abs=2e-4)
    assert [r["status"] for r in rows] == ["ok", "ok", "incomplete (2/5 epochs)"]
    assert "comparison" in page.sortable  # click a column's name to sort by it
    # The settings (seeds pooled): one seed each here, so no interval, and the page says how.
    settings = page.tables["settings"]
    assert [r[settings[0].index("n")] for r in settings[1:]] == ["1", "1", "0 (+1 not ok)"]
    assert "one seed: no interval; add -m seed=0,1,2" in page.text
    # Each run's final grid, linked to its file; each run's own report linked from the table.
    assert sum("samples/epoch_0002.png" in link for link in page.links) == 6  # table + grids
    assert sum(link.endswith("/report.html") for link in page.links) >= 3
    assert all(t.exists() for t in relative_targets(sweep_dir, page))


def test_report_command_writes_any_kind_and_explains_a_wrong_folder(sweep_dir, tmp_path, capsys):
    (sweep_dir / "report.html").unlink()
    report_main([str(sweep_dir)])
    assert (sweep_dir / "report.html").exists() and "report:" in capsys.readouterr().out
    with pytest.raises(SystemExit) as err:
        report_main([str(tmp_path)])
    assert err.value.code == 2
    assert "nothing to report" in capsys.readouterr().err


def test_a_run_that_is_still_training_gets_its_page_on_demand(trained_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / "report.html").unlink()
    info = json.loads((run / "run.json").read_text())
    info["sessions"][-1].update(status="running", ended=None, end_epoch=None)
    (run / "run.json").write_text(json.dumps(info))  # what run.json says while a run trains
    report_main([str(run)])
    page = Page(run / "report.html")
    assert page.sections == RUN_SECTIONS
    assert "running (or killed before it could record its end)" in page.text


def test_report_settings_are_checked_before_training(tmp_path):
    with pytest.raises(UserError, match="callbacks.report.augment_copies"):
        check_config(make_cfg(tmp_path, [*TINY, "callbacks.report.augment_copies=0"]))


# ---- inversions --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def inversions(trained_run, tmp_path_factory) -> dict[str, Path]:
    """Every mode of invert.py, a few SGD steps each, on the trained run's generator; edit and
    interpolate reuse the first inversion's vector, as a user would (and save time)."""
    folder = tmp_path_factory.mktemp("inversions")
    target = folder / "target.png"
    Image.open(trained_run / "samples" / "epoch_0002.png").crop((2, 2, 34, 34)).save(target)
    other = folder / "other.png"
    Image.open(trained_run / "samples" / "epoch_0002.png").crop((36, 2, 68, 34)).save(other)
    ckpt = trained_run / "checkpoints" / "last.ckpt"
    earlier = trained_run / "checkpoints" / "epoch_0001.ckpt"
    z = folder / "invert" / "z.pt"  # written by the first mode
    modes = {
        "invert": [f"target={target}"],
        "edit": [f"z={z}", "coords=[0,1]", "amounts=[-1,0,1]"],
        "interpolate": [f"target={other}", f"z_b={z}", "interp_steps=4"],
        "compare": [f"ckpt_b={earlier}", f"target=[{target}]"],
    }
    out = {}
    for mode, args in modes.items():
        out[mode] = folder / mode
        args = [f"mode={mode}", f"ckpt={ckpt}", "steps=6", "restarts=2", "frames=3", *args]
        cfg = compose("invert", [*args, f"out_dir={out[mode]}"])
        invert_run(OmegaConf.to_container(cfg, resolve=True))
    return out


def test_every_invert_mode_writes_a_report_with_the_final_mses(inversions):
    for mode, folder in inversions.items():
        page = Page(folder / "report.html")
        assert page.sections == INVERSION_SECTIONS, mode
        losses = sorted(folder.glob("*loss.csv"))
        rows = page.rows("mse")
        assert (
            len(rows)
            == len(losses)
            == {"invert": 1, "edit": 0, "interpolate": 1, "compare": 2}[mode]
        )
        for row, path in zip(rows, losses, strict=True):
            last = read_rows(path)[-1]
            assert float(row[4]) == pytest.approx(
                min(float(last["restart_0"]), float(last["restart_1"])), rel=1e-3
            )
        assert all(t.exists() for t in relative_targets(folder, page)), mode
    edit = Page(inversions["edit"] / "report.html")
    assert "edits.png" in edit.links and "../invert/z.pt" in edit.links  # the vector it moved
    assert "No inversion in this folder" in edit.text
    assert "interpolation.gif" in Page(inversions["interpolate"] / "report.html").links
    compare = Page(inversions["compare"] / "report.html")
    assert "compare.png" in compare.links
    assert [r[0] for r in compare.rows("compare")] == ["0 (target.png)", "mean"]  # then the mean


# ---- a long run --------------------------------------------------------------------------
def synthetic_run():
    spec = importlib.util.spec_from_file_location(
        "report_speed", ROOT / "benchmarks" / "report_speed.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.synthetic_run


def test_a_300_epoch_report_takes_seconds_and_shows_every_grid(tmp_path):
    run = synthetic_run()(tmp_path / "long", epochs=300, steps=32, grid_every=1)
    start = time.perf_counter()
    page = Page(write_run_report(run))
    seconds = time.perf_counter() - start
    assert seconds < 20  # measured 1–1.5 s on 2 busy cores (benchmarks/README.md)
    assert len(page.sliders[0]["src"]) == 301
    assert (run / "report.html").stat().st_size < 3e6  # the grids are linked, not embedded
    fid = [float(r["val/fid"]) for r in read_rows(run / "metrics.csv") if r["val/fid"]]
    best_epoch = 10 * (fid.index(min(fid)) + 1)
    assert re.search(rf"Best epoch: {best_epoch} \(by val/fid", page.text)
    assert [r[0] for r in page.rows("warnings")] == ["100"]


# ---- in a browser ------------------------------------------------------------------------
@pytest.mark.skipif(
    find_browser() is None,
    reason="no Chromium: apt-get install chromium (CI's .ci/run installs it) to open the reports",
)
def test_reports_open_in_a_real_browser_from_file_urls(
    trained_run, sweep_dir, inversions, tmp_path
):
    moved = tmp_path / "copied" / "run"  # a run folder copied elsewhere keeps working
    shutil.copytree(trained_run, moved)
    pages = {
        "run": (moved / "report.html", RUN_SECTIONS),
        "sweep": (sweep_dir / "report.html", SWEEP_SECTIONS),
        **{
            f"inversion {m}": (f / "report.html", INVERSION_SECTIONS) for m, f in inversions.items()
        },
    }
    seen = {}
    with Chromium() as browser:
        for name, (path, sections) in pages.items():
            shot = tmp_path / f"{name.replace(' ', '_')}.png"
            seen[name] = found = browser.open(path, screenshot=shot)
            assert found["sections"] == sections, name
            assert found["images"], name
            broken = [i["src"] for i in found["images"] if not i["complete"] or i["width"] == 0]
            assert not broken, f"{name}: pictures that did not load: {broken}"
            assert found["errors"] == [], f"{name}: {found['errors']}"
            with Image.open(shot) as im:  # the whole page, not one screen of it
                assert im.width == 1280 and im.height > 1500
    assert seen["run"]["sliders"] == [3]  # the untrained grid and both epochs' grids
    assert seen["sweep"]["sortable"] == 2  # the settings and every run
