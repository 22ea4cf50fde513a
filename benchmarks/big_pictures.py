"""128 and 256 px: the training step's time and peak memory, per network, precision and thread count.

    python benchmarks/big_pictures.py --make-data /tmp/big/patches     # the set, once (~2 s)
    python benchmarks/big_pictures.py --root /tmp/big/patches --sizes 128,256 --rounds 2

The set (no internet needed): 1,200 patches of scikit-learn's two sample photos
(``load_sample_images``: china.jpg and flower.jpg, 427×640): a random square of side 128–427 px at
a random place, one of the 8 flips/quarter turns, resized to 256 px, JPEG quality 90. Random crops
of two photos overlap: the data audit skips 78 of them as near duplicates (6.5 %, under
data.audit.max_skipped_share), so every cell trains on the same 1,122 images.

Cells, each in a fresh Python process (so ru_maxrss is that cell's own peak):

  auto b16 / auto b64   recipe=auto's networks for the size (DCGAN G, spectral-norm D, widths
                        from gan_lab/training/recipe.py) at batch 16 (what it picks for a budget of
                        under 50,000 steps: any run of minutes or hours on a CPU) and 64;
  transposed / upsample 003's reference D with the "transposed" or the "upsample" G
                        (experiment=reference, batch 8; the presets are written for 64 px and add
                        stride-2 blocks at the image end, repeating their last width).

each in fp32 (trainer.precision=32-true) and in bf16 autocast (bf16-mixed, what precision=auto
picks on a CPU with native bf16), on 1 thread (torch.set_num_threads(1), OMP_NUM_THREADS=1), and
recipe=auto's batch-16 pick also on 2. Slow cells (003's nets: seconds at 128 px, minutes at 256 px
a step; 2 threads on a machine whose other core is busy) run in the first round only, with one
warm-up step. The step is the project's own (the LightningModule
and Trainer, callbacks=none, logger=none) on the plain path (trainer.fast_path=off: no layout or
thread change between cells). Time: the median of the timed steps after ``--warmup`` steps, then the
median over rounds (each round runs every cell once, the order rotated, so slow drifts of a shared
machine hit all cells alike); a cell whose steps take longer than ``--cell-seconds`` times fewer
steps (at least 2) and runs in the first round only. Memory: the process's peak RSS
(resource.getrusage maxrss), and the peak before the first step (imports, the decoded set, the
networks): the difference is what training adds.

One JSON line per cell as it ends, then a Markdown table. Name the machine beside any figure.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("transposed", "upsample")  # 003's nets: at 256 px a step takes minutes on one core
NETS = ("auto b16", "auto b64", "transposed", "upsample")
PRECISIONS = ("32-true", "bf16-mixed")


def make_data(folder: Path, count: int = 1200, seed: int = 0) -> None:
    """The set of the docstring, written as JPEG files."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_sample_images

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    photos = load_sample_images().images
    for i in range(count):
        photo = photos[i % 2]
        side = int(rng.integers(128, 428))
        y = rng.integers(0, photo.shape[0] - side + 1)
        x = rng.integers(0, photo.shape[1] - side + 1)
        patch = np.rot90(photo[y : y + side, x : x + side], k=int(rng.integers(4)))
        if rng.integers(2):
            patch = patch[:, ::-1]
        image = Image.fromarray(np.ascontiguousarray(patch)).resize((256, 256), Image.BICUBIC)
        image.save(folder / f"p{i:04d}.jpg", quality=90)
    print(f"{count} patches in {folder}")


def overrides(cell: dict, root: str, cache: str) -> list[str]:
    """The training config of one cell."""
    size, net = cell["size"], cell["net"]
    common = [
        "data=folder",
        f"data.root={root}",
        f"data.cache_dir={cache}",
        f"data.image_size={size}",
        f"trainer.precision={cell['precision']}",
        "trainer.fast_path=off",
        "callbacks=none",  # the bare step: no checkpoints, grids, metrics or CSVs
        "logger=none",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
        "seed=0",
    ]
    if net.startswith("auto"):
        return common + [f"data.batch_size={net.split('b')[1]}", "trainer.max_epochs=1000"]
    return ["experiment=reference", f"generator={net}", *common]


def run_cell(cell: dict, root: str, cache: str, warmup: int, steps: int, seconds: float) -> dict:
    """In this process: build the cell's run, train warmup + timed steps, return the figures."""
    import lightning as L
    import torch

    from gan_lab.config import compose
    from gan_lab.training.train import build, make_trainer

    torch.set_num_threads(cell["threads"])

    class Timer(L.Callback):
        def __init__(self):
            self.times, self.started = [], None

        def on_train_batch_start(self, *args):
            self.t = time.perf_counter()

        def on_train_batch_end(self, trainer, *args):
            self.times.append(time.perf_counter() - self.t)
            timed = self.times[warmup:]
            enough = len(timed) >= steps or (len(timed) >= 2 and sum(timed) > seconds)
            trainer.should_stop = enough

    cfg = compose(
        "train", overrides(cell, root, cache), output_dir=f"/tmp/big_pictures_{os.getpid()}"
    )
    module, dm = build(cfg)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB → GiB
    timer = Timer()
    make_trainer(cfg, callbacks=[timer]).fit(module, datamodule=dm)
    g, d = cfg.generator, cfg.discriminator
    count = lambda net: sum(p.numel() for p in net.parameters()) / 1e6  # noqa: E731
    return {
        **cell,
        "batch": int(cfg.data.batch_size),
        "G": f"{g.project_channels}×{g.start_size}² → {list(g.channels)} ({g.upsample})",
        "D": str(list(d.channels)),
        "G_params_M": round(count(module.generator), 2),
        "D_params_M": round(count(module.discriminator), 2),
        "step_s": statistics.median(timer.times[warmup:]),
        "steps_timed": len(timer.times) - warmup,
        "warmup_s": round(sum(timer.times[:warmup]), 2),
        "rss_before_GiB": round(before, 2),
        "rss_peak_GiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }


def cells(sizes: list[int], nets: list[str]) -> list[dict]:
    """Every cell on 1 thread; on 2 threads only recipe=auto's pick for a run of minutes (b16)."""
    out = []
    for size in sizes:
        for net in nets:
            for precision in PRECISIONS:
                for threads in (1, 2) if net == "auto b16" else (1,):
                    out.append(dict(size=size, net=net, precision=precision, threads=threads))
    return out


def heavy(cell: dict) -> bool:
    """Steps of seconds to minutes (003's nets; 2 threads beside other work): one round, one
    warm-up step."""
    return cell["net"] in HEAVY or cell["threads"] > 1


def spawn(cell: dict, args) -> dict | None:
    """One cell in a fresh process (its own peak RSS); None when it failed (said on stderr)."""
    cmd = [sys.executable, __file__, "--cell", json.dumps(cell), "--root", args.root]
    cmd += ["--cache", args.cache, "--warmup", str(args.warmup), "--steps", str(args.steps)]
    cmd += ["--cell-seconds", str(args.cell_seconds)]
    env = {**os.environ, "OMP_NUM_THREADS": str(cell["threads"])}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        print(
            f"cell {cell} failed (exit {done.returncode}):\n{done.stderr[-2000:]}", file=sys.stderr
        )
        return None
    return json.loads(lines[-1])


def table(results: list[dict], machine: str) -> str:
    rows = [
        f"Step time and peak memory ({machine}; median of the rounds' medians)\n",
        "| px | networks | batch | precision | threads | s/step | ms/image | peak RSS GiB "
        "(before the 1st step) | steps × rounds |",
        "|---:|---|---:|---|---:|---:|---:|---|---|",
    ]
    for r in results:
        rows.append(
            f"| {r['size']} | {r['net']}: G {r['G']}, D {r['D']} ({r['G_params_M']} M + "
            f"{r['D_params_M']} M) | {r['batch']} | {r['precision']} | {r['threads']} | "
            f"{r['step_s']:.3g} | {1000 * r['step_s'] / r['batch']:.0f} | {r['rss_peak_GiB']} "
            f"({r['rss_before_GiB']}) | {r['steps_timed']} × {r['rounds']} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--make-data", type=Path, help="write the set into this folder and exit")
    parser.add_argument("--root", default="/tmp/big/patches", help="the folder of images")
    parser.add_argument("--cache", default="/tmp/big/cache", help="data.cache_dir")
    parser.add_argument("--sizes", default="128,256")
    parser.add_argument("--nets", default=",".join(NETS))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--cell-seconds", type=float, default=30.0)
    parser.add_argument("--cell", help=argparse.SUPPRESS)  # a child process: one cell
    args = parser.parse_args()
    if args.make_data:
        return make_data(args.make_data)
    if args.cell:
        cell = json.loads(args.cell)
        if heavy(cell):  # one warm-up step of seconds to minutes is warm-up enough
            args.warmup = 1
        print(
            json.dumps(
                run_cell(cell, args.root, args.cache, args.warmup, args.steps, args.cell_seconds)
            )
        )
        return
    import torch

    from gan_lab.hardware import device_name

    flags = sorted(
        set(Path("/proc/cpuinfo").read_text().split()) & {"avx2", "avx512_bf16", "amx_bf16"}
    )
    machine = f"{device_name(torch.device('cpu'))}, {os.cpu_count()} cores, {' '.join(flags)}"
    print(
        f"# {machine}, torch {torch.__version__}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    todo = cells([int(s) for s in args.sizes.split(",")], args.nets.split(","))
    per_cell: dict[str, list[dict]] = {}
    for r in range(args.rounds):
        order = todo[r % len(todo) :] + todo[: r % len(todo)]
        for cell in order:
            if r > 0 and heavy(cell):
                continue
            out = spawn(cell, args)
            if out is not None:
                per_cell.setdefault(json.dumps(cell), []).append(out)
                print(json.dumps({"round": r + 1, **out}), flush=True)
    results = []
    for cell in todo:
        runs = per_cell.get(json.dumps(cell))
        if runs:
            results.append(
                {
                    **runs[0],
                    "step_s": statistics.median(x["step_s"] for x in runs),
                    "rss_peak_GiB": max(x["rss_peak_GiB"] for x in runs),
                    "rss_before_GiB": max(x["rss_before_GiB"] for x in runs),
                    "rounds": len(runs),
                }
            )
    print(table(results, machine))


if __name__ == "__main__":
    main()
