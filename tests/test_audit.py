"""Hygiene: a messy crawled folder is audited file by file, and training uses only the good files."""

import numpy as np
from conftest import QUIET
from PIL import Image

from gan_lab.cli.audit import audit
from gan_lab.training.train import train


def noise(seed, h=64, w=64, c=3):
    shape = (h, w, c) if c > 1 else (h, w)
    return np.random.default_rng(seed).integers(0, 255, shape, np.uint8)


def make_messy_folder(root):
    """Good files (some with upper-case extensions, some nested) and every kind of trouble."""
    (root / "nested" / "deeper").mkdir(parents=True)
    good = {
        "good1.jpg": lambda p: Image.fromarray(noise(1)).save(p),
        "good2.JPG": lambda p: Image.fromarray(noise(2, 80, 60)).save(p),
        "nested/good3.png": lambda p: Image.fromarray(noise(3)).save(p),
        "nested/deeper/good4.PNG": lambda p: Image.fromarray(noise(4, 50, 90)).save(p),
        "cmyk.jpg": lambda p: Image.fromarray(noise(5)).convert("CMYK").save(p),
        "sixteen.png": lambda p: Image.fromarray(noise(6, c=1).astype(np.uint16) * 257).save(p),
        "alpha.png": lambda p: Image.fromarray(noise(7, c=4), "RGBA").save(p),
    }
    for name, write in good.items():
        write(root / name)
    Image.fromarray(noise(8, 256, 256)).save(root / "full.jpg")
    data = (root / "full.jpg").read_bytes()
    (root / "full.jpg").unlink()
    (root / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (root / "empty.jpg").write_bytes(b"")
    (root / "text.jpg").write_text("<html>this is a web page, not a photo</html>")
    Image.fromarray(noise(9, 8, 8)).save(root / "thumb.png")
    (root / "nested" / "copy_of_good1.jpg").write_bytes((root / "good1.jpg").read_bytes())
    (root / "readme.txt").write_text("crawled with a script")
    return len(good)


EXPECTED = {
    "truncated.jpg": "unreadable",
    "empty.jpg": "unreadable",
    "text.jpg": "unreadable",
    "thumb.png": "too_small",
    "nested/copy_of_good1.jpg": "duplicate",
    "readme.txt": "not_an_image",
    "cmyk.jpg": "unusual_mode",
    "sixteen.png": "unusual_mode",
    "alpha.png": "unusual_mode",
}


def test_messy_folder_every_problem_named(tmp_path):
    root = tmp_path / "cakes"
    make_messy_folder(root)
    problems, report = audit([f"data.root={root}", f"audit.report={tmp_path / 'report.csv'}"])
    found = {str(p.path.relative_to(root)): p.kind for p in problems}
    assert found == EXPECTED
    skipped = {str(p.path.relative_to(root)) for p in problems if p.skipped}
    assert skipped == {k for k, v in EXPECTED.items() if v not in ("unusual_mode",)}
    text = report.read_text()
    assert all(name in text for name in EXPECTED) and "skipped" in text and "kept" in text
    assert (root / "truncated.jpg").exists()  # nothing moved without audit.quarantine=true


def test_quarantine_moves_only_skipped_files(tmp_path, gan_lab_cli):
    root = tmp_path / "cakes"
    make_messy_folder(root)
    code, stdout, stderr = gan_lab_cli(  # `gan-lab audit`, in-process
        "audit",
        f"data.root={root}",
        "audit.quarantine=true",
        f"audit.report={tmp_path / 'r.csv'}",
    )
    assert code == 0, stderr
    assert "truncated.jpg" in stdout and "duplicate" in stdout
    q = tmp_path / "cakes_quarantine"
    assert (q / "truncated.jpg").exists() and (q / "nested" / "copy_of_good1.jpg").exists()
    assert (root / "cmyk.jpg").exists() and (root / "good1.jpg").exists()


def test_training_on_messy_folder_uses_the_good_files(cfg_factory, tmp_path):
    root = tmp_path / "cakes"
    n_good = make_messy_folder(root)
    cfg = cfg_factory(
        "data=cakes",
        f"data.root={root}",
        "data.audit.max_skipped_share=1",  # half of this folder is broken on purpose
        "data.image_size=32",
        "data.batch_size=4",
        "trainer.max_epochs=1",
        *QUIET,
        out=tmp_path / "run",
    )
    seen = {}

    import lightning as L

    class Count(L.Callback):
        def on_train_start(self, trainer, module):
            seen["n"] = len(trainer.datamodule.images)

    train(cfg, callbacks=[Count()])
    assert seen["n"] == n_good
    report = (tmp_path / "run" / "data_audit.csv").read_text()
    assert "truncated.jpg" in report and "too_small" in report
