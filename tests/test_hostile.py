"""Hostile folders (design §3.2): a decompression bomb, a FIFO, a dangling link, a link to
/dev/zero and a link loop beside good images are listed with a reason and never read; memory stays
bounded; two runs can fill the decoded-folder cache at once; a full disk is one paragraph."""

import csv
import errno
import json
import os
import struct
import subprocess
import sys
import threading
import zlib

import lightning as L
import numpy as np
import pytest
from conftest import QUIET, ROOT
from PIL import Image, ImageOps

from gan_lab.data import decoded
from gan_lab.data.audit import audit_records, check_share, summarize
from gan_lab.data.decoded import decode_folder
from gan_lab.data.folder import DecodeGate, FileRecord, inspect_file, scan_folder
from gan_lab.errors import UserError

GOOD = 40
# Each hostile entry and a word its reason must contain.
HOSTILE = {
    "bomb.png": ("too_large", "pixel budget"),
    "x.png": ("not_a_file", "FIFO"),
    "y.png": ("not_a_file", "dangling"),
    "z.png": ("not_a_file", "/dev/zero"),
    "loop.png": ("not_a_file", "loop"),
    "loop_a.png": ("not_a_file", "loop"),
}


def png_bomb(path, side):
    """A side × side 16-bit grey PNG of zeros (338 MB decoded at 13000 px, 0.3 MB on disk),
    written row by row: Pillow would first hold the whole image to save it."""

    def chunk(kind, data):
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    comp = zlib.compressobj(9)
    row = b"\0" * (1 + 2 * side)  # filter byte + the row's 16-bit samples
    body = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 16, 0, 0, 0, 0)  # 16 bits, grey
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def good_images(root, n=GOOD, seed=0):
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for k in range(n):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), np.uint8)).save(root / f"{k:02d}.png")


def hostile_folder(root):
    """40 good images and the files of the issue's crawled folder, plus two kinds of link loop."""
    good_images(root)
    png_bomb(root / "bomb.png", 13000)
    os.mkfifo(root / "x.png")
    os.symlink(root / "missing.png", root / "y.png")
    os.symlink("/dev/zero", root / "z.png")
    os.symlink("loop.png", root / "loop.png")
    os.symlink("loop_b.png", root / "loop_a.png")
    os.symlink("loop_a.png", root / "loop_b.png")
    return root


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return hostile_folder(tmp_path_factory.mktemp("hostile") / "crawl")


# Run in a child so that a broken defence fails the test instead of taking the machine down: a
# read of /dev/zero hits the address-space limit, a FIFO opened for reading hits the timeout.
CHILD = r"""
import json, resource, sys
from pathlib import Path
from gan_lab.data.audit import audit_decoded
from gan_lab.data.decoded import decode_folder
from gan_lab.data.folder import inspect_file

def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

status = dict(l.split(":", 1) for l in open("/proc/self/status"))
vm = int(status["VmSize"].split()[0]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (vm + 2 * 2**30, vm + 2 * 2**30))
root, cache = Path(sys.argv[1]), Path(sys.argv[2])
before = rss()
dec = decode_folder(root, 64, 3, cache_dir=cache)
problems = audit_decoded(dec)
# Called directly (load_image, latent/images.py), a file is still only read if it is regular.
direct = {name: inspect_file(root / name, 64, "RGB")[0].error for name in ("x.png", "z.png")}
print(json.dumps({
    "problems": [[p.path.name, p.kind, p.detail, p.skipped] for p in problems],
    "good": [r.path.name for r in dec.records if not r.error],
    "direct": direct,
    "grown": rss() - before,
}))
"""


def test_a_hostile_folder_is_listed_and_never_read(hostile, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "MALLOC_ARENA_MAX": "2"}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(hostile), str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.splitlines()[-1])
    problems = {name: (kind, detail, skipped) for name, kind, detail, skipped in result["problems"]}
    for name, (kind, word) in HOSTILE.items():
        assert name in problems, name
        assert problems[name][0] == kind and word in problems[name][1], problems[name]
        assert problems[name][2]  # skipped
    assert set(problems) == set(HOSTILE) | {"loop_b.png"}
    assert sorted(result["good"]) == [f"{k:02d}.png" for k in range(GOOD)]
    assert all("not a regular file" in e or "never opened" in e for e in result["direct"].values())
    # Decoding the bomb alone would take 338 MB (its 16-bit pixels) and the old float conversion
    # 1.4 GB more; 40 small images and the audit need a few MB above the imports.
    assert result["grown"] < 200 * 2**20, result["grown"]


def test_a_hostile_folder_trains_on_its_good_images(hostile, cfg_factory):
    """The acceptance run in small: the run trains on the 40 good images and data_audit.csv names
    each hostile entry (entries that are no files are not counted against the skipped share)."""
    from gan_lab.training.train import train

    class Seen(L.Callback):
        def on_fit_start(self, trainer, module):
            self.images = trainer.datamodule.images

    seen = Seen()
    cfg = cfg_factory(
        "data=folder", f"data.root={hostile}", "data.image_size=32", "trainer.max_epochs=1", *QUIET
    )
    train(cfg, callbacks=[seen])
    assert tuple(seen.images.shape) == (GOOD, 3, 32, 32)
    with open(f"{cfg.paths.output_dir}/data_audit.csv") as f:
        rows = {os.path.basename(r["path"]): r for r in csv.DictReader(f)}
    for name, (kind, word) in HOSTILE.items():
        assert rows[name]["problem"] == kind and word in rows[name]["detail"]
        assert rows[name]["action"] == "skipped"


def test_the_bomb_is_refused_from_its_header(tmp_path, monkeypatch):
    """Over the budget: never decoded (Image.open only reads the header); over twice the budget,
    Pillow's own DecompressionBombError says the same."""
    Image.new("RGB", (300, 200)).save(tmp_path / "big.png")

    def no_decoding(self):
        raise AssertionError("decoded")

    monkeypatch.setattr(Image.Image, "load", no_decoding)
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", no_decoding)
    for budget in (50_000, 20_000):  # 60,000 px: over the budget, then over twice it
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", budget)
        rec, array, thumb = inspect_file(tmp_path / "big.png", 32, "RGB")
        assert rec.problem == "too_large" and array is None and thumb is None, rec.error
        assert rec.size in ((300, 200), (0, 0))


def test_large_images_are_reduced_before_conversion_without_changing_them(tmp_path):
    """JPEGs decode at a smaller DCT scale (draft) and every large image is box-reduced to three
    times the wanted size before it is converted; the result stays that of a full-size resize up
    to the rounding of the intermediate 8-bit image (a few levels on a smooth picture)."""
    y, x = np.mgrid[0:900, 0:1200]
    smooth = np.stack([x * 255 // 1199, y * 255 // 899, (x + y) * 255 // 2098], -1)
    smooth[(y - 450) ** 2 + (x - 600) ** 2 < 200**2] = (250, 40, 90)
    im = Image.fromarray(smooth.astype(np.uint8))
    im.save(tmp_path / "big.png")
    im.save(tmp_path / "big.jpg", quality=95)
    full = np.asarray(ImageOps.fit(im, (32, 32), Image.Resampling.LANCZOS), dtype=float)
    for name in ("big.png", "big.jpg"):
        rec, array, _ = inspect_file(tmp_path / name, 32, "RGB")
        assert rec.size == (1200, 900) and not rec.error
        diff = np.abs(array - full)
        assert diff.mean() < 2 and np.percentile(diff, 99) < 12, (name, diff.mean(), diff.max())

    grey16 = (np.mgrid[0:700, 0:700][1] * 93).astype(np.uint16)  # 0 … 65007: all 16 bits used
    Image.fromarray(grey16).save(tmp_path / "deep.png")
    rec, array, _ = inspect_file(tmp_path / "deep.png", 32, "L")
    expected = ImageOps.fit(
        Image.fromarray((grey16 // 257).astype(np.uint8)), (32, 32), Image.Resampling.LANCZOS
    )
    assert rec.mode.startswith("I;16") and np.abs(array - np.asarray(expected, float)).max() <= 2


def test_the_decode_gate_keeps_the_pixels_in_flight_under_its_total():
    gate, lock = DecodeGate(100), threading.Lock()
    in_flight, peak = [0], [0]

    def work(pixels):
        with gate.hold(pixels):
            with lock:
                in_flight[0] += min(pixels, 100)
                peak[0] = max(peak[0], in_flight[0])
            threading.Event().wait(0.01)
            with lock:
                in_flight[0] -= min(pixels, 100)

    threads = [threading.Thread(target=work, args=(p,)) for p in [60, 60, 30, 500, 10] * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads) and 0 < peak[0] <= 100


def test_two_runs_fill_one_cache_at_once(tmp_path, monkeypatch):
    """Two writers of the same folder's cache take turns: the second finds the first's work, and
    neither deletes a file the other still needs (before the lock, the first to finish deleted
    the other's half-written generation, which then failed to open)."""
    root = tmp_path / "set"
    good_images(root)
    slow = decoded.inspect_file

    def slowly(*args):  # long enough that the two decodes overlap without the lock
        threading.Event().wait(0.02)
        return slow(*args)

    monkeypatch.setattr(decoded, "inspect_file", slowly)
    cache, start, results = tmp_path / "cache", threading.Barrier(2), [None, None]

    def run(k):
        start.wait()
        try:
            results[k] = decode_folder(root, 32, 3, cache_dir=cache)
        except Exception as err:  # noqa: BLE001 — reported by the assertion below
            results[k] = err

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(isinstance(r, decoded.DecodedFolder) for r in results), results
    assert sorted(r.decoded for r in results) == [0, GOOD]
    assert np.array_equal(results[0].images, results[1].images)
    (folder,) = cache.iterdir()
    assert len(list(folder.glob("images-*.npy"))) == 1 and len(list(folder.glob("thumbs-*"))) == 1
    again = decode_folder(root, 32, 3, cache_dir=cache)
    fresh = decode_folder(root, 32, 3, cache_dir=None)
    assert again.decoded == 0 and np.array_equal(again.images, fresh.images)


def test_a_full_disk_is_one_paragraph_not_sigbus(tmp_path, monkeypatch):
    """The cache file is reserved (posix_fallocate) before it is memory-mapped: no space is a
    UserError naming the folder and the ways out, and no half-written file is left behind."""
    root = tmp_path / "set"
    good_images(root, n=4)

    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", full)
    cache = tmp_path / "cache"
    with pytest.raises(UserError) as caught:
        decode_folder(root, 32, 3, cache_dir=cache)
    message = str(caught.value)
    assert "not enough free disk space" in message and str(cache) in message
    assert "data.cache_dir" in message and "data.cache=false" in message and "\n" not in message
    assert not list(cache.rglob("*.npy"))
    # Without a cache a set over the memory budget still needs a file: the same message.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    with pytest.raises(UserError, match="not enough free disk space"):
        decode_folder(root, 32, 3, cache_dir=None, memory_budget=1)
    # With room again, the same call works: nothing was left half-done.
    monkeypatch.undo()
    assert decode_folder(root, 32, 3, cache_dir=cache).decoded == 4


def test_entries_that_are_no_files_do_not_count_against_the_skipped_share(hostile):
    """6 entries that are no files and 1 bomb beside 40 images: 1 of 41 image files skipped
    (2 %), under the 10 % that stops a run; counting the FIFO and the links would make it 15 %."""
    scan = scan_folder(hostile)
    names = {p.name for p in scan.special}
    assert names == (set(HOSTILE) - {"bomb.png"}) | {"loop_b.png"}
    assert not set(scan.special) & set(scan.files) and set(scan.special) <= set(scan.others)
    records = [
        FileRecord(p, "over the budget", problem="too_large")
        if p.name == "bomb.png"
        else FileRecord(p, mode="RGB", size=(40, 40), sha1=p.name)
        for p in scan.files
    ]
    thumbs = np.random.default_rng(0).integers(0, 255, (len(records), 32, 32), np.uint8)
    problems = audit_records(records, thumbs, others=scan.others, special=scan.special)
    assert sorted(p.kind for p in problems) == ["not_a_file"] * 6 + ["too_large"]
    n_files = len(scan.files) + len(scan.others)
    check_share(problems, n_files, 0.1, None)
    assert "7 skipped (1 of 41 image files, 2.4 %)" in summarize(problems, n_files)
    with pytest.raises(UserError, match="skip 1 of 41 image files"):
        check_share(problems, n_files, 0.01, None)
