"""Best samples per CPU-minute on real data: gan-lab's presets against a hand-written loop.

    python benchmarks/digits_study.py <out_dir> [--sizes 28,64] [--seconds 300] [--seed 0]
                                      [--recipes raw,small_data,default,conditional]
                                      [--extra name="override;override"]...

1. Writes scikit-learn's 1,797 handwritten digits (8×8, 17 grey levels) as 64×64 RGB PNGs in
   one subfolder per class (<out_dir>/digits/0 … 9), as a crawled folder would be.
2. Trains the lab's own extractor on them per size (gan-lab extractor, 1 channel;
   with --extractor-augment also on zooms and turns of them) and reports its held-out accuracy.
3. Trains each recipe for the same wall time (<seconds> of training: Lightning's max_time for
   gan-lab, the loop's own clock for benchmarks/raw_dcgan.py), one after another with every core.
4. Scores 1,000 samples of each (the EMA generator where a recipe keeps one; RGB samples as
   their grey mean) against all real digits: Fréchet distance in the extractor's feature space
   (lower is better; the real-vs-real floor — one half of the digits against the other — is
   printed too), and for a conditional recipe the share of samples the extractor's classifier
   assigns to the class asked for.
Prints one JSON line per run and a Markdown table; name the CPU beside any figure from here.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gan_lab.hardware import device_name
from gan_lab.metrics.classifier import ClassifierFeatures
from gan_lab.metrics.images import generate_asked
from gan_lab.metrics.scorer import frechet_distance
from gan_lab.training.checkpoint import load_gan

ROOT = Path(__file__).resolve().parents[1]
RECIPES = {
    "small_data": ["experiment=small_data"],
    "default": [],
    "conditional": ["experiment=small_data", "model.conditional=true"],
}
N_SAMPLES = 1000
RAW_ARGS: list[str] = []  # --raw-args: more arguments of benchmarks/raw_dcgan.py (e.g. --ema=20000)
TAG = ""  # --tag: a suffix of the run names (one study folder, several budgets)
REUSE = False  # --reuse: score the runs already in <out_dir> again; train none (missing: skipped)


def prepare(out: Path) -> Path:
    from sklearn.datasets import load_digits

    folder = out / "digits"
    if folder.exists():
        return folder
    digits = load_digits()
    for i, (image, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        grey = Image.fromarray((image * (255 / 16)).astype(np.uint8)).resize(
            (64, 64), Image.BICUBIC
        )
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        grey.convert("RGB").save(folder / str(label) / f"{i:04d}.png")
    return folder


def data_args(folder: Path, size: int) -> list[str]:
    return ["data=folder", f"data.root={folder}", f"data.image_size={size}"]


def extractor(folder: Path, size: int, out: Path, epochs: int, augment: bool) -> ClassifierFeatures:
    """The judge: trained on the real digits, 1 channel; with ``augment`` on small zooms and
    turns of them too (never flips), which makes it less fooled by smooth, generated strokes."""
    path = out / f"extractor{size}_{epochs}ep{'_aug' if augment else ''}.pt"
    if not path.exists():
        args = [
            *data_args(folder, size),
            "data.channels=1",
            "data.augment.flip=false",
            f"data.augment.zoom={0.1 if augment else 0}",
            f"data.augment.rotate={10 if augment else 0}",
            f"augment={str(augment).lower()}",
            f"epochs={epochs}",
            f"out={path}",
            f"hydra.run.dir={path.with_suffix('.run')}",
        ]
        subprocess.run([sys.executable, "-m", "gan_lab", "extractor", *args], cwd=ROOT, check=True)
    return ClassifierFeatures.load(path)


def real_images(folder: Path, size: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    from hydra.utils import instantiate

    from gan_lab.metrics.classifier import data_config

    dm = instantiate(
        data_config(
            "folder", [f"data.root={folder}", f"data.image_size={size}", "data.channels=1"]
        ),
        value_range=(0.0, 1.0),
        _convert_="all",
    )
    dm.load()
    return dm.images.float() / 255, dm.labels, list(dm.classes)


def features(ext: ClassifierFeatures, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if images.shape[1] == 3:
        images = images.mean(1, keepdim=True)
    f, logits = zip(*(ext(images[s : s + 250]) for s in range(0, len(images), 250)), strict=True)
    return torch.cat(f).double(), torch.cat(logits)


def fd(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(frechet_distance(a.mean(0), a.T.cov(), b.mean(0), b.T.cov()))


EPOCHS = 0  # --epochs: train every run for this many passes instead of a wall time


def train_lab(name: str, overrides: list[str], folder, size, seconds, seed, out) -> dict:
    run = out / f"{name}_{size}px_seed{seed}{TAG}"
    hh, rest = divmod(int(seconds), 3600)
    budget = (
        [f"trainer.max_epochs={EPOCHS}"]
        if EPOCHS
        else [
            "trainer.max_epochs=100000",
            f"+trainer.max_time=00:{hh:02d}:{rest // 60:02d}:{rest % 60:02d}",
        ]
    )
    args = [
        *data_args(folder, size),
        *overrides,
        f"seed={seed}",
        *budget,
        "metrics=off",
        "trainer.enable_progress_bar=false",
        f"hydra.run.dir={run}",
    ]
    t0 = time.perf_counter()
    if REUSE and not (run / "checkpoints" / "last.ckpt").exists():
        return None
    if not REUSE:
        subprocess.run(
            [sys.executable, "train.py", *args],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
    wall = float("nan") if REUSE else time.perf_counter() - t0  # training wall time
    gan = load_gan(run / "checkpoints" / "last.ckpt")
    ids = gan.class_ids
    samples, y = generate_asked(gan.generator, gan.noise, N_SAMPLES, seed, 250, "cpu", ids)
    steps = len((run / "steps.csv").read_text().splitlines()) - 1
    asked = None if y is None else [gan.classes[i] for i in y]  # the classes it asked for
    return {"samples": samples, "steps": steps, "epochs": gan.epoch, "wall_s": wall, "asked": asked}


def train_raw(folder, size, seconds, seed, out) -> dict:
    path = out / f"raw_{size}px_seed{seed}{TAG}.pt"
    t0 = time.perf_counter()
    if REUSE:
        if not path.exists():
            return None
        saved = torch.load(path)
        return {
            "samples": saved["samples"],
            "steps": saved["steps"],
            "epochs": None,
            "wall_s": float("nan"),
            "asked": None,
        }
    subprocess.run(
        [
            sys.executable,
            "benchmarks/raw_dcgan.py",
            str(folder),
            str(size),
            str(seconds),
            str(path),
            f"--seed={seed}",
            f"--epochs={EPOCHS}",
            *RAW_ARGS,
        ],
        cwd=ROOT,
        check=True,
    )
    saved = torch.load(path)
    return {
        "samples": saved["samples"],
        "steps": saved["steps"],
        "epochs": None,
        "wall_s": time.perf_counter() - t0,
        "asked": None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--sizes", default="28,64")
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--recipes", default="raw,small_data,default,conditional")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="score runs already in out_dir (e.g. with a new extractor)",
    )
    parser.add_argument("--extractor-epochs", type=int, default=40)
    parser.add_argument(
        "--extractor-augment",
        action="store_true",
        help="train the judge on zoomed/turned digits too (a separate extractor file)",
    )
    parser.add_argument(
        "--extra", action="append", default=[], help='another recipe: name="override;override"'
    )
    parser.add_argument("--epochs", type=int, default=0, help="passes instead of --seconds")
    parser.add_argument("--raw-args", default="", help="more arguments of raw_dcgan.py")
    parser.add_argument("--tag", default="", help="a suffix of the run names")
    args = parser.parse_args()
    global REUSE, EPOCHS, RAW_ARGS, TAG
    REUSE, EPOCHS, RAW_ARGS, TAG = args.reuse, args.epochs, args.raw_args.split(), args.tag
    args.out.mkdir(parents=True, exist_ok=True)
    recipes = {k: RECIPES.get(k) for k in args.recipes.split(",") if k}  # raw: no overrides
    recipes.update({k: v.split(";") for k, v in (e.split("=", 1) for e in args.extra)})
    folder = prepare(args.out)
    print(
        f"{device_name(torch.device('cpu'))}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; {args.seconds} s of training per run"
    )
    rows = []
    for size in map(int, args.sizes.split(",")):
        ext = extractor(folder, size, args.out, args.extractor_epochs, args.extractor_augment)
        reals, labels, classes = real_images(folder, size)
        real_f, _ = features(ext, reals)
        half = torch.randperm(len(reals), generator=torch.Generator().manual_seed(0))
        floor = fd(real_f[half[::2]], real_f[half[1::2]])
        print(
            f"{size} px: extractor held-out accuracy {ext.accuracy:.3f}, "
            f"real-vs-real floor FD {floor:.2f}",
            flush=True,
        )
        for name, overrides in recipes.items():
            if name == "raw":
                result = train_raw(folder, size, args.seconds, args.seed, args.out)
            else:
                result = train_lab(name, overrides, folder, size, args.seconds, args.seed, args.out)
            if result is None:
                continue  # --reuse and no such run
            fake_f, logits = features(ext, result.pop("samples"))
            row = {
                "recipe": name,
                "size": size,
                "seed": args.seed,
                "floor": round(floor, 2),
                "fd": round(fd(fake_f, real_f), 2),
            }
            asked = result.pop("asked")
            if asked is not None:
                predicted = [ext.classes[i] for i in logits.argmax(1)]
                row["class_accuracy"] = round(
                    float(np.mean([a == p for a, p in zip(asked, predicted, strict=True)])), 3
                )
            row.update({k: (round(v, 1) if isinstance(v, float) else v) for k, v in result.items()})
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(
        "\n| recipe | size | steps | FD | class accuracy | wall s |\n| --- | --- | --- | --- | --- | --- |"
    )
    for r in rows:
        print(
            f"| {r['recipe']} | {r['size']} | {r['steps']} | {r['fd']} | "
            f"{r.get('class_accuracy', '')} | {r['wall_s']} |"
        )


if __name__ == "__main__":
    main()
