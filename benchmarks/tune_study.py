"""Does an hour of `gan-lab tune` beat the recipe it starts from? Digits at 64 px.

    python benchmarks/tune_study.py <out_dir> [--budget 1h] [--slice 10m] [--retrain 600]
                                    [--seeds 0,1] [--centre "<overrides;...>"] [--workers 2]

1. The real digits and their extractor as in benchmarks/digits_study.py (1,797 scikit-learn
   digits as 64×64 PNGs in class folders; the lab's own classifier, 1 channel).
2. `gan-lab tune` on them for --budget with --slice per trial, starting from --centre (the recipe
   the search is centred on; empty = the default, recipe=auto), objective FID in the extractor's
   space (the study's own score: tune.metric=fid, tune.n_samples=1000, tune.seed=0). --workers
   processes share the study, each pinned to one core of its own (the machine's cores by default).
3. Re-trains best.yaml and the centre for --retrain seconds with each seed (trainer.max_time),
   the two recipes of one seed side by side, each on one core of its own, and scores each run's
   last checkpoint the way the study scores its trials (gan_lab.tune's Judge: 1,000 seeded
   samples against a seeded subset of the set, in the same extractor).
Prints one JSON line per run and a Markdown table; name the CPU/GPU beside any figure from here.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from digits_study import data_args, extractor, prepare  # noqa: E402

from gan_lab.hardware import device_name  # noqa: E402
from gan_lab.runs import layout  # noqa: E402
from gan_lab.training.checkpoint import load_gan  # noqa: E402
from gan_lab.tune.objective import Channels, Judge  # noqa: E402
from gan_lab.tune.wall_time import lightning_time  # noqa: E402

SIZE = 64


def gan_lab(*args: str, core: int | None = None) -> subprocess.Popen:
    """Starts one `gan-lab` command; on one core of its own (taskset) when ``core`` is given."""
    pin = [] if core is None else ["taskset", "-c", str(core)]
    return subprocess.Popen([*pin, sys.executable, "-m", "gan_lab.cli.main", *args])


def wait(*processes: subprocess.Popen) -> None:
    """Waits for all; the first that fails stops the others and the script."""
    for process in processes:
        if process.wait():
            for other in processes:
                other.terminate()
            raise SystemExit(f"{process.args} failed with exit code {process.returncode}")


def score(run: Path, judge: Judge, reals: torch.Tensor) -> float:
    """The study's objective for a finished run: its generator as the Judge scores a trial."""
    gan = load_gan(layout.last_checkpoint(run))

    class Module:  # what Judge.score reads of the LightningModule
        device = torch.device("cpu")
        shown_generator, noise = gan.generator, gan.noise
        conditional, class_ids = gan.class_ids is not None, gan.class_ids

    return judge.score(Module, reals)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--budget", default="1h")
    parser.add_argument("--slice", default="10m")
    parser.add_argument("--retrain", type=int, default=600, help="seconds of each re-training")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--centre", default="", help="the starting recipe (default: recipe=auto)")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    folder = prepare(args.out)
    ext_path = args.out / f"extractor{SIZE}_40ep.pt"
    ext = extractor(folder, SIZE, args.out, 40, False)  # writes ext_path
    data = [*data_args(folder, SIZE), "data.channels=1"]
    centre = [a for a in args.centre.split(";") if a]
    study = args.out / "study"
    print(
        f"{device_name(torch.device('cuda' if torch.cuda.is_available() else 'cpu'))}; "
        f"extractor accuracy {ext.accuracy:.3f}",
        flush=True,
    )
    cores = sorted(os.sched_getaffinity(0))
    tune = [
        "tune",
        *data,
        *centre,
        f"tune.budget={args.budget}",
        f"tune.slice={args.slice}",
        f"tune.extractor={ext_path}",
        "tune.metric=fid",
        f"tune.dir={study}",
    ]
    wait(*(gan_lab(*tune, core=cores[i % len(cores)]) for i in range(args.workers)))
    best = layout.best_recipe(study)
    judge = Judge(Channels(ext), "fid", 1000, 0)
    from gan_lab.config import registry
    from gan_lab.metrics.classifier import data_config

    dm = registry.build(
        "data", data_config("folder", data[1:] + ["data.channels=1"]), value_range=(0.0, 1.0)
    )
    dm.load()
    rows = []
    recipes = (("tuned", [f"experiment={best}"]), ("centre", centre))
    for seed in map(int, args.seeds.split(",")):
        runs = {name: args.out / f"{name}_seed{seed}" for name, _ in recipes}
        wait(
            *(
                gan_lab(
                    "train",
                    *data,
                    *recipe,
                    f"seed={seed}",
                    "trainer.max_epochs=1000000",
                    f"++trainer.max_time={lightning_time(args.retrain)}",
                    "metrics=off",
                    "trainer.enable_progress_bar=false",
                    f"hydra.run.dir={runs[name]}",
                    core=cores[i % len(cores)],
                )
                for i, (name, recipe) in enumerate(recipes)
            )
        )
        for name, _ in recipes:
            row = {
                "recipe": name,
                "seed": seed,
                "fid": round(score(runs[name], judge, dm.images), 3),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("\n| recipe | seed | FID (extractor) |\n| --- | --- | --- |")
    for r in rows:
        print(f"| {r['recipe']} | {r['seed']} | {r['fid']} |")


if __name__ == "__main__":
    main()
