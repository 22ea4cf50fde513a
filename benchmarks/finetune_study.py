"""Fine-tuning against training from nothing on a few nines (issue 36; docs/training.md, "Fine-tuning").

    python benchmarks/finetune_study.py <out_dir> [--sizes 50,100,180] [--seeds 0,1,2]
        [--source-seconds 600] [--seconds 180 | --steps K] [--image-size 64] [--jobs 2]
        [--arms scratch,finetune,freeze_d] [--freeze-d 2] [--extra name="override;override"]...
        [--tag _steps]

1. Writes scikit-learn's 1,797 digits as PNGs (benchmarks/digits_study.py's `prepare`), then a
   source folder of the digits 0–8 (1,617 images) and, per size n and seed, a folder of n nines
   drawn with that seed (scikit-learn has 180 nines: n = 180 is all of them).
2. Trains the judge: gan-lab's extractor on all ten classes (1 channel, at the study's size).
3. Trains the source generator on the digits 0–8 for --source-seconds (recipe=auto, one core).
4. Per size, seed and arm, one run of --seconds on one core (--jobs runs side by side, each
   pinned to its own core): `scratch` (recipe=auto from nothing), `finetune`
   (`init=<source run>`), `freeze_d` (`init=` and `model.freeze_d=K`), and any --extra arm.
   The same seed draws the same nines for every arm: the comparison is paired.
5. Scores 1,000 samples of each run (the EMA generator where the run keeps one) against all
   180 nines: the Fréchet distance in the extractor's features (lower is better). The floor is
   the n training nines against all 180.
Prints one JSON line per run and a Markdown table per size; name the CPU beside any figure.
"""

import argparse
import json
import os
import queue
import random
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from digits_study import extractor, fd, features, prepare, real_images  # noqa: E402

from gan_lab.hardware import device_name  # noqa: E402
from gan_lab.metrics.images import generate_unit  # noqa: E402
from gan_lab.training.checkpoint import load_gan  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
N_SAMPLES = 1000
TARGET = "9"


def copy_set(digits: Path, dest: Path, classes: list[str], n: int | None, seed: int) -> Path:
    """A flat folder of copies (a crawled folder: no links) of n images of ``classes``."""
    if dest.exists():
        return dest
    files = sorted(f for c in classes for f in (digits / c).glob("*.png"))
    if n is not None:
        files = random.Random(seed).sample(files, n)
    dest.mkdir(parents=True)
    for f in files:
        shutil.copy(f, dest / f"{f.parent.name}_{f.name}")
    return dest


def train(run: Path, folder: Path, size: int, seed: int, budget: str, extra, core: int) -> float:
    """One training run of ``budget`` (a trainer override) on one core; returns the wall time.
    Skipped when its last checkpoint exists."""
    if (run / "checkpoints" / "last.ckpt").exists():
        return float("nan")
    args = [
        "data=folder",
        f"data.root={folder}",
        f"data.image_size={size}",
        "data.channels=1",
        f"seed={seed}",
        "trainer.max_epochs=100000",
        budget,
        "metrics=off",
        # the last checkpoint only: every 10 epochs of 3 batches kept ~2.2 GB a run at 32 px
        "callbacks.checkpoint.every_n_epochs=100000",
        "trainer.enable_progress_bar=false",
        f"hydra.run.dir={run}",
        *extra,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    pin = ["taskset", "-c", str(core)] if shutil.which("taskset") else []
    log = run.with_suffix(".log")
    run.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with log.open("w") as out:
        subprocess.run(
            [*pin, sys.executable, "train.py", *args],
            cwd=ROOT,
            check=True,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return time.perf_counter() - t0


def held_out(nines: torch.Tensor, train_set: torch.Tensor) -> torch.Tensor:
    """The nines that are not in a run's training folder (the same decoded pixels)."""
    seen = {bytes(x.numpy().tobytes()) for x in train_set}
    return torch.stack([x for x in nines if bytes(x.numpy().tobytes()) not in seen] or [nines[0]])


def score(run: Path, ext, real_feats: torch.Tensor, held_feats, seed: int) -> dict:
    """FD of the EMA G (where kept) and of the live G against all nines, and of the EMA G against
    the nines the run never saw (None when it saw them all): the second asks for nines, not
    copies of the training ones."""
    scores = {}
    for ema, key in ((True, "fd"), (False, "fd_live")):
        gan = load_gan(run / "checkpoints" / "last.ckpt", ema=ema)
        samples = generate_unit(gan.generator, gan.noise, N_SAMPLES, seed, 250, "cpu", None)
        feats = features(ext, samples)[0]
        scores[key] = fd(feats, real_feats)
        if ema:
            scores["fd_held_out"] = None if held_feats is None else fd(feats, held_feats)
    steps = len((run / "steps.csv").read_text().splitlines()) - 1
    return {**scores, "steps": steps, "epochs": gan.epoch}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--sizes", default="50,100,180")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--source-seconds", type=int, default=600)
    p.add_argument("--seconds", type=int, default=180)
    p.add_argument("--steps", type=int, default=0, help="a step budget instead of --seconds")
    p.add_argument("--tag", default="", help="a suffix of the runs' names (another budget)")
    # 64 px: at 32 px both arms reach the floor of copying the nines within the 3 minutes
    # (benchmarks/README.md, "Pulling G back to the source, built"), and cannot be told apart
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--arms", default="scratch,finetune,freeze_d")
    p.add_argument("--freeze-d", type=int, default=2)
    p.add_argument("--extra", action="append", default=[], help='name="override;override"')
    p.add_argument("--extractor-epochs", type=int, default=30)
    a = p.parse_args()
    out, size = a.out.resolve(), a.image_size
    sizes = [int(s) for s in a.sizes.split(",")]
    seeds = [int(s) for s in a.seeds.split(",")]

    digits = prepare(out)
    source_set = copy_set(digits, out / "source", [str(c) for c in range(9)], None, 0)
    ext = extractor(digits, size, out, a.extractor_epochs, augment=False)
    images, labels, classes = real_images(digits, size)
    nines = images[labels == classes.index(TARGET)]
    real_feats, _ = features(ext, nines)
    print(f"# {device_name(torch.device('cpu'))}; {len(nines)} nines; judge: {ext}", flush=True)

    source = out / f"source_{size}px"
    wall = train(source, source_set, size, 0, f"trainer.max_time={a.source_seconds}s", [], 0)
    print(json.dumps({"run": source.name, "wall_s": wall}), flush=True)

    arms = {
        "scratch": [],
        "finetune": [f"init={source}"],
        "freeze_d": [f"init={source}", f"model.freeze_d={a.freeze_d}"],
    }
    for spec in a.extra:
        name, _, overrides = spec.partition("=")
        arms[name] = [o for o in overrides.split(";") if o]
    chosen = a.arms.split(",") + [s.partition("=")[0] for s in a.extra]

    # Every arm the same number of steps when --steps is given: a fair budget on a machine whose
    # other work would give the arms run at different times different wall-clock speeds.
    budget = f"trainer.max_steps={a.steps}" if a.steps else f"trainer.max_time={a.seconds}s"
    cells = [(n, seed, arm) for n in sizes for seed in seeds for arm in chosen]

    # Every folder before the pool: two arms of one seed start side by side and would both make it.
    folders = {
        (n, seed): copy_set(digits, out / f"nines{n}_seed{seed}", [TARGET], n, seed)
        for n in sizes
        for seed in seeds
    }

    # Each running cell on a core of its own: a core is taken when a run starts and given back
    # when it ends. (Pinned by the cell's index, two runs shared one core whenever the cells
    # between them were skipped or ended out of order: at 64 px they made ~1,300 steps in 3
    # minutes where they make ~2,400.)
    free = queue.Queue()
    for core in range(a.jobs):
        free.put(core)

    def run_cell(cell):
        n, seed, arm = cell
        folder = folders[n, seed]
        run = out / f"{arm}_n{n}_seed{seed}{a.tag}"
        core = free.get()
        try:
            wall = train(run, folder, size, seed, budget, arms[arm], core)
        finally:
            free.put(core)
        return n, seed, arm, run, folder, wall

    # Every run first, then the scores: scoring takes CPU from a timed run beside it.
    with ThreadPoolExecutor(a.jobs) as pool:
        trained = list(pool.map(run_cell, cells))
    results: dict[tuple, dict] = {}
    for n, seed, arm, run, folder, wall in trained:
        train_set = real_images(folder, size)[0]
        unseen = held_out(nines, train_set) if n < len(nines) else None
        held_feats = None if unseen is None else features(ext, unseen)[0]
        row = {"n": n, "seed": seed, "arm": arm, "wall_s": wall}
        row |= score(run, ext, real_feats, held_feats, seed)
        train_feats, _ = features(ext, train_set)
        row["floor"] = fd(train_feats, real_feats)
        row["floor_held_out"] = None if held_feats is None else fd(train_feats, held_feats)
        results[n, seed, arm] = row
        print(json.dumps(row), flush=True)

    for n in sizes:
        table(results, n, seeds, chosen, "fd", f"all {len(nines)} nines", "floor")
        if n < len(nines):
            table(
                results, n, seeds, chosen, "fd_held_out", "the nines it never saw", "floor_held_out"
            )


def table(results: dict, n: int, seeds: list, arms: list, key: str, against: str, floor: str):
    """A Markdown table of one score per arm and seed, with steps, mean, sd and × scratch."""
    print(f"\n**{n} nines**: FD to {against} in the judge's features (steps in brackets)\n")
    print("| arm | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | sd | × scratch |")
    print("| --- |" + " --- |" * (len(seeds) + 3))
    mean_of = lambda arm: statistics.mean(results[n, s, arm][key] for s in seeds)  # noqa: E731
    base = mean_of("scratch") if "scratch" in arms else None
    for arm in arms:
        rows = [results[n, s, arm] for s in seeds]
        cells = " | ".join(f"{r[key]:.2f} ({r['steps']})" for r in rows)
        sd = statistics.stdev(r[key] for r in rows) if len(rows) > 1 else float("nan")
        ratio = f"{mean_of(arm) / base:.2f}" if base else ""
        print(f"| {arm} | {cells} | {mean_of(arm):.2f} | {sd:.2f} | {ratio} |")
    floors = [results[n, s, arms[0]][floor] for s in seeds]
    print(f"\nfloor (the {n} training nines against the same): {statistics.mean(floors):.2f}")


if __name__ == "__main__":
    main()
