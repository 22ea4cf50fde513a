"""How much sooner a second run over the same folder starts training (the decoded-folder cache).

    python benchmarks/data_cache.py [--images 10000] [--size 256] [--folder /tmp/cache_bench]

Writes N distinct JPEGs (size×size, like crawled photos), then starts
`python train.py data=folder data.root=<folder>` twice with an empty cache folder, and once more
after one file was edited; each time it measures the seconds from launch until training starts
(the log line "precision ..., N training images") and stops the run there. Prints a Markdown row.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def write_folder(folder: Path, n: int, size: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        path = folder / f"{i:06d}.jpg"
        if path.exists():
            continue
        coarse = rng.integers(0, 255, (6, 6, 3), np.uint8)
        im = Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC)
        im.save(path, quality=90)


def until_training(folder: Path, cache: Path, out: Path) -> float:
    cmd = [
        sys.executable,
        "train.py",
        "data=folder",
        f"data.root={folder}",
        f"data.cache_dir={cache}",
        "metrics=off",
        "logger=none",
        f"hydra.run.dir={out}",
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    for line in proc.stdout:
        if "training images" in line:
            seconds = time.perf_counter() - t0
            proc.kill()
            proc.wait()
            return seconds
    raise RuntimeError(f"train.py ended before training started (exit {proc.wait()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "cache_bench")
    args = parser.parse_args()
    folder = args.folder / f"{args.images}x{args.size}"
    write_folder(folder, args.images, args.size)
    with tempfile.TemporaryDirectory() as tmp:
        cache, out = Path(tmp) / "cache", Path(tmp) / "runs"
        first = until_training(folder, cache, out / "1")
        second = until_training(folder, cache, out / "2")
        edited = folder / f"{0:06d}.jpg"
        os.utime(edited)  # "edited": a new modification time makes the next run re-read it
        third = until_training(folder, cache, out / "3")
    print("| images | first run s | second run s | ratio | after editing one file s |")
    print("|---|---|---|---|---|")
    print(
        f"| {args.images:,} ({args.size}² JPEG) | {first:.1f} | {second:.1f} | {first / second:.1f}× | {third:.1f} |"
    )


if __name__ == "__main__":
    main()
