"""How long report.html takes for a long run: a synthetic run folder of N epochs, then the report.

    python benchmarks/report_speed.py [--epochs 300] [--steps 32] [--grid-every 1] [--out DIR]

The folder holds what a real run of that length holds — metrics.csv (per epoch, with FID/KID
every 10 epochs), steps.csv (--steps per epoch), ssim.csv, warnings.csv, run.json, a 64-image
32×32 sample grid every --grid-every epochs (default: every epoch, the worst case), the GIF,
and empty checkpoint files — drawn with a fixed seed; then gan_lab.report writes its page, and
the seconds are printed (median of --repeat writes). tests/test_report.py builds its long run
with ``synthetic_run``.
"""

import argparse
import csv
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

STEP_COLUMNS = ["step", "epoch", "d_loss", "g_loss", "d_real", "d_fake"]


def _grid(rng: np.random.Generator, progress: float) -> Image.Image:
    """An 8×8 grid of 32×32 images (274×274 px, padded as make_grid pads them): grey blurs that
    turn into coloured discs over training, like a generator learning the built-in shapes."""
    yy, xx = np.mgrid[0:32, 0:32]
    disc = ((yy - 16) ** 2 + (xx - 16) ** 2 < 100)[..., None]
    colours = rng.integers(40, 255, (64, 3))
    grid = np.zeros((274, 274, 3), np.float32)
    for i, colour in enumerate(colours):
        r, c = divmod(i, 8)
        tile = 128 * (1 - progress) + progress * np.where(disc, colour, 20)
        grid[2 + r * 34 : 34 + r * 34, 2 + c * 34 : 34 + c * 34] = tile
    return Image.fromarray(np.clip(grid, 0, 255).astype(np.uint8))


def _write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def synthetic_run(
    folder: Path, epochs: int = 300, steps: int = 32, grid_every: int = 1, seed: int = 0
) -> Path:
    """A run folder of ``epochs`` epochs with every file the report reads; returns it."""
    rng = np.random.default_rng(seed)
    (folder / "samples").mkdir(parents=True, exist_ok=True)
    (folder / "checkpoints").mkdir(exist_ok=True)
    metric_rows, step_rows, ssim_rows = [], [], []
    for epoch in range(1, epochs + 1):
        t = epoch / epochs
        d = 0.5 + 0.3 * math.exp(-5 * t) + rng.normal(0, 0.2, steps)
        g = 1.5 - 0.4 * t + rng.normal(0, 0.3, steps)
        real, fake = (
            0.6 + 0.2 * t + rng.normal(0, 0.05, steps),
            0.4 - 0.1 * t + rng.normal(0, 0.05, steps),
        )
        for i in range(steps):
            step = (epoch - 1) * steps + i
            step_rows.append(
                dict(zip(STEP_COLUMNS, [step, epoch, d[i], g[i], real[i], fake[i]], strict=True))
            )
        row = {
            "epoch": epoch,
            "step": epoch * steps,
            "train/d_fake": fake.mean(),
            "train/d_loss": d.mean(),
            "train/d_real": real.mean(),
            "train/diversity": 0.3 + 0.5 * t,
            "train/g_loss": g.mean(),
            "epoch_seconds": 5.0 + rng.random(),
            "val/fid": "",
            "val/kid": "",
        }
        if epoch % 10 == 0:
            row["val/fid"] = 200 * math.exp(-3 * t) + 20 + rng.normal(0, 3)
            row["val/kid"] = row["val/fid"] / 1000
        metric_rows.append(row)
        if epoch % 5 == 0:
            ssim_rows.append({"step": epoch * steps, "epoch": epoch, "ssim": 0.2 + 0.3 * t})
    _write_csv(folder / "metrics.csv", list(metric_rows[0]), metric_rows)
    _write_csv(folder / "steps.csv", STEP_COLUMNS, step_rows)
    _write_csv(folder / "ssim.csv", ["step", "epoch", "ssim"], ssim_rows)
    warnings = [{"epoch": epochs // 3, "kind": "d_wins", "message": "D is winning (synthetic)"}]
    _write_csv(folder / "warnings.csv", ["epoch", "kind", "message"], warnings)
    shown = [e for e in range(0, epochs + 1) if e % grid_every == 0 or e == epochs]
    frames = []
    for epoch in shown:
        image = _grid(rng, epoch / epochs)
        image.save(folder / "samples" / f"epoch_{epoch:04d}.png", compress_level=1)
        frames.append(image)
    # Every 10th grid with a fixed palette: adaptive quantisation of 300 noisy frames would take
    # minutes here, and the report only shows the GIF (or links it), whatever its frames.
    frames = [f.convert("P", palette=Image.Palette.WEB) for f in frames[::10]]
    frames[0].save(folder / "samples" / "evolution.gif", save_all=True, append_images=frames[1:])
    for epoch in range(10, epochs + 1, 10):
        (folder / "checkpoints" / f"epoch_{epoch:04d}.ckpt").write_bytes(b"")
    info = {
        "format": 1,
        "data": {"name": "synthetic", "source": "builtin", "images": 2048, "global_batch": 64},
        "grid": {"n": 64, "nrow": 8, "rows": None},
        "sessions": [{"started": "start", "ended": "end", "status": "finished", "devices": 1}],
    }
    (folder / "run.json").write_text(json.dumps(info))
    config = {"trainer": {"max_epochs": epochs}, "metrics": {"best": "val/fid"}, "seed": 0}
    (folder / ".hydra").mkdir(exist_ok=True)
    (folder / ".hydra" / "config.yaml").write_text(json.dumps(config))  # JSON is YAML
    (folder / ".hydra" / "overrides.yaml").write_text(f"- trainer.max_epochs={epochs}\n")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--grid-every", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from gan_lab.report import write_run_report

    folder = args.out or Path(tempfile.mkdtemp(prefix="report-speed-")) / "run"
    t0 = time.perf_counter()
    synthetic_run(folder, args.epochs, args.steps, args.grid_every)
    print(f"synthetic run of {args.epochs} epochs in {folder} ({time.perf_counter() - t0:.1f} s)")
    t0 = time.perf_counter()
    write_run_report(folder)  # the first write also loads matplotlib and its fonts
    first = time.perf_counter() - t0
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        path = write_run_report(folder)
        times.append(time.perf_counter() - t0)
    grids = len(list((folder / "samples").glob("epoch_*.png")))
    print(
        f"report.html ({path.stat().st_size / 1e6:.2f} MB, {grids} grids, "
        f"{args.epochs * args.steps:,} steps): first write {first:.2f} s, then median "
        f"{statistics.median(times):.2f} s of {args.repeat} ({', '.join(f'{t:.2f}' for t in times)})"
    )


if __name__ == "__main__":
    main()
